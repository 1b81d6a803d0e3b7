"""Running the launch scripts in the integration tests: a run, its printed summary, its logged metrics, and a
run killed part-way (the driver, its local Ray and every worker)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PY = sys.executable
ENV = {**os.environ, "WANDB_MODE": "offline", "TRL_EXPERIMENTAL_SILENCE": "1", "RAY_DEDUP_LOGS": "0"}


def run(args: list, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs a launch script to its end; `env` defaults to ENV (a run that starts a local Ray of its own)."""
    proc = subprocess.run([PY, *map(str, args)], cwd=ROOT, env=env or ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def summary(stdout: str) -> dict:
    """The JSON summary a launch script prints last (`ray job submit` prints a few lines of its own after it)."""
    start = stdout.rindex("\n{")
    return json.loads(stdout[start : stdout.index("\n}", start) + 2])


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def run_until(args: list, done: Path, timeout: float = 600) -> None:
    """Starts a run and kills it (SIGKILL to its whole process group) as soon as `done` exists."""
    proc = subprocess.Popen([PY, *map(str, args)], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + timeout
        while not done.exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
