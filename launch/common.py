"""Plumbing of the entry points: a stage's config and train tasks (or a clear exit), run summaries, and the
stage runner of the multi-stage jobs (launch/demo.py, launch/ablate.py): finished stages are reused by the
fingerprint of their inputs, training stages run as child processes, evaluations write JSON per benchmark."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl.config import ConfigError, Stage, load_config
from rl.data import SplitError, load_tasks


def config_and_train_tasks(path: str, overrides: list[str], stage: Stage) -> tuple[Any, list]:
    """The stage's config and the tasks it trains on.

    Raises:
        SystemExit(2): after printing the config or data error (file, line and key).
    """
    from rl.models import ModelLoadError, check_spec

    try:
        cfg = load_config(path, overrides, stage=stage)
        check_spec(cfg.model.name_or_path, cfg.model.allow_download)
        return cfg, load_tasks(cfg.data, "train")
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
    except SplitError as e:
        print(f"config error: {path}: {e}", file=sys.stderr)
    except ModelLoadError as e:
        print(f"config error: {path}: model.name_or_path: {e}", file=sys.stderr)
    raise SystemExit(2)


def write_summary(summary: dict[str, Any], output_dir: str) -> None:
    """Prints the run's summary, and writes it to `<output_dir>/summary.json` for callers that run the entry
    point as a child process (launch/demo.py)."""
    print(json.dumps(summary, indent=2), flush=True)
    (Path(output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))


# ---------------------------------------------------------------------------------------------------
# Multi-stage jobs
# ---------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


class Stages:
    """Remembers finished stages and their fingerprints (in `<out>/stages.json`)."""

    def __init__(self, out: Path) -> None:
        self.path = out / "stages.json"
        self.done: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.t0 = time.perf_counter()
        self.reused: list[str] = []  # stages this invocation took from an earlier run

    def run(self, name: str, fingerprint: str, fn: Callable[[], dict[str, Any]], workdir: Path | None = None) -> dict[str, Any]:
        """Runs `fn` unless the stage finished with this fingerprint; a rerun starts from an empty `workdir`
        (a changed recipe must not resume, or log into, the outputs of the old one)."""
        prev = self.done.get(name)
        if prev and prev.get("fingerprint") == fingerprint:
            print(f"[stage] {name}: reusing the finished stage (fresh=True to redo)", flush=True)
            self.reused.append(name)
            return prev["result"]
        if workdir is not None and workdir.exists():
            shutil.rmtree(workdir)
        print(f"\n[stage] ===== {name} (t+{self.elapsed()}) =====", flush=True)
        t = time.perf_counter()
        result = fn()
        self.done[name] = {"fingerprint": fingerprint, "result": result, "seconds": round(time.perf_counter() - t, 1)}
        self.path.write_text(json.dumps(self.done, indent=2))
        print(f"[stage] {name} done in {time.perf_counter() - t:.0f} s", flush=True)
        return result

    def elapsed(self) -> str:
        from rl.eval.report import mmss

        return mmss(time.perf_counter() - self.t0)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_child(script: str, config: Path, overrides: list[str], stdout: Any = None) -> dict[str, Any]:
    """Runs a training stage as `launch/<script>` in a child process and returns its summary.

    A child process, not a call: a trainer's peak memory (activations, logits, optimizer state) stays with
    the process on CPU (the allocator keeps freed pages), and the next stage's Ray workers then ran out of
    memory on this 24 GiB machine. `stdout` takes the child's standard output (None: this process's; a
    benchmark that prints JSON sends it to stderr).
    """
    cmd = [sys.executable, str(ROOT / "launch" / script), "--config", str(config), *overrides]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"stage failed (exit {proc.returncode}): {' '.join(cmd)}")
    out_dir = next(o.split("=", 1)[1] for o in overrides if o.startswith("trainer.output_dir="))
    return json.loads((Path(out_dir) / "summary.json").read_text())


def evaluate_into(cfg: Any, spec: str, benches: dict[str, list], outdir: Path, label: str, *, workers: int,
                  batch_size: int, cache: Path | None = None, player: Any = None) -> dict[str, str]:
    """Evaluates one model on each benchmark's tasks; writes `<outdir>/<label>_<bench>.json` (+ .md, .png).

    Args:
        cfg: The EvalRunConfig (its model is replaced by `spec`).
        spec: The model (alias, checkpoint, hub id).
        benches: Benchmark name ("toolgym" or "bfcl") -> tasks.
        outdir: Where the result files go.
        label: The model's name in the file names.
        workers: Ray rollout workers (0: in this process).
        batch_size: Tasks per lockstep batch.
        cache: A directory whose `<bench>.json` results are reused (and filled), for models that never change.
        player: An `EpisodePlayer` of `workers` workers that the caller keeps open across models (it plays `spec`
            next, in the same worker processes); default: one started and stopped here.

    Returns:
        Benchmark name -> path of its result JSON.
    """
    from rl.eval import evaluate as ev
    from rl.ray_utils import init_ray

    mcfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name_or_path=spec))
    cached = {bench: cache / f"{bench}.json" if cache else None for bench in benches}
    if workers and not all(c is not None and c.is_file() for c in cached.values()):
        init_ray(workers * cfg.rollout.cpus_per_worker)
    if player is None:
        with ev.EpisodePlayer(mcfg, workers) as own:
            return evaluate_into(cfg, spec, benches, outdir, label, workers=workers, batch_size=batch_size,
                                 cache=cache, player=own)
    if player.workers != workers:
        raise ValueError(f"evaluate_into: the player has {player.workers} workers, not {workers}")
    player.use(mcfg)
    paths = {}
    # One set of workers for every benchmark, started if one runs.
    for bench, tasks in benches.items():
        target = outdir / f"{label}_{bench}.json"
        if cached[bench] is not None and cached[bench].is_file():
            print(f"[toolgym] eval {label}/{bench}: cached result {cached[bench]}", flush=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(cached[bench], target)
        else:
            # A killed demo resumes its evaluation from the tasks it had finished (the journal is tied to the
            # model's files, so a retrained model starts over).
            res = ev.evaluate(mcfg, bench, tasks, batch_size=batch_size, progress=f"eval {label}/{bench}",
                              journal=target.with_suffix(".tasks.jsonl"), player=player)
            ev.write_outputs(res, target)
            if cached[bench] is not None:
                cached[bench].parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(target, cached[bench])
        paths[bench] = str(target)
    return paths
