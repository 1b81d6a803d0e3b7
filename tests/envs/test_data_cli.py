"""launch/data.py end to end (as a subprocess with the venv's python), and envs' import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "launch" / "data.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CLI), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def train_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "train.jsonl"
    proc = _run("generate", "--n", "2000", "--split", "train", "--seed", "0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_generate_then_validate_accepts_everything(train_file: Path):
    lines = train_file.read_text().splitlines()
    assert len(lines) == 2000
    assert len({json.loads(line)["category"] for line in lines}) == 8
    proc = _run("validate", str(train_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: all 2000 tasks valid" in proc.stdout


def test_validate_reports_bad_lines_by_number(train_file: Path, tmp_path: Path):
    lines = train_file.read_text().splitlines()[:8]
    lines[2] = lines[2][: len(lines[2]) // 2]  # line 3: truncated JSON
    row = json.loads(lines[4])  # line 5: a ground-truth call to a tool the task does not offer
    row["ground_truth"] = [[{"launch_rocket": {"target": ["moon"]}}]] + row["ground_truth"][1:]
    lines[4] = json.dumps(row)
    row = json.loads(lines[6])  # line 7: valid JSON, but its expected state is wrong
    domain = next(iter(row["expected_state"]))
    row["expected_state"][domain] = {"tampered": True}
    lines[6] = json.dumps(row)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    proc = _run("validate", str(bad))
    out = proc.stdout
    assert proc.returncode == 1
    assert f"{bad}:3:" in out and "invalid JSON" in out
    assert f"{bad}:5" in out and "launch_rocket" in out
    assert f"{bad}:7" in out and "expected_state" in out
    assert "REJECTED 3 of 8 tasks (lines 3, 5, 7)" in out


def test_cli_rejects_bad_arguments(tmp_path: Path):
    proc = _run("generate", "--n", "3", "--split", "train", "--seed", "0", "--out", str(tmp_path / "x.jsonl"),
                "--domains", "ticketing")
    assert proc.returncode == 2 and "held out" in proc.stderr
    assert _run("validate", str(tmp_path / "missing.jsonl")).returncode == 2


def test_envs_imports_no_torch_ray_transformers():
    code = (
        "import sys, envs, envs.tasks, envs.validate, envs.check, envs.bfcl, envs.replay\n"
        "envs.tasks.generate(8, 'train', seed=0)\n"
        "print(sorted(m for m in ('torch', 'ray', 'transformers') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
