"""What a training stage logs, shared by RL and SFT: checkpoint-aligned metrics (W&B + JSONL) and step timing.

Why our own W&B logging instead of `report_to="wandb"`: a crash-and-resume must lose no logged step and
repeat none. HF logs a step before it saves the step's checkpoint, so a kill between the two leaves a
logged step that the resumed run repeats. `RunLogger` holds each step's rows until the checkpoint that
contains the step is on disk (it writes them into that checkpoint too), and only then sends them to W&B
and to `metrics.jsonl`. On resume it flushes rows that the checkpoint holds but the log does not.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

PENDING_FILE = "toolgym_pending_logs.jsonl"


class StepTimer:
    """Seconds spent per part of a training step; `last` holds the last finished step's figures."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.last: dict[str, float] = {}
        self._step_start = time.perf_counter()

    def add(self, **seconds: float) -> None:
        for k, v in seconds.items():
            self.current[k] += v

    def start_step(self) -> None:
        self.current = defaultdict(float)
        self._step_start = time.perf_counter()

    def finish_step(self) -> dict[str, float]:
        total = time.perf_counter() - self._step_start
        out = {f"timing/{k}": v for k, v in self.current.items()}
        out["timing/step_s"] = total
        # Training time is what is left of the step once rollouts, weight sync and evaluation are accounted for.
        other = sum(self.current.get(k, 0.0) for k in ("rollout_s", "sync_s", "eval_s"))
        out["timing/train_s"] = max(total - other, 0.0)
        self.last = out
        return out


class TimingCallback(TrainerCallback):
    """Times whole steps (a stage with nothing else to time inside its steps: SFT)."""

    def __init__(self, timer: StepTimer) -> None:
        self.timer = timer

    def on_step_begin(self, args, state, control, **kw):
        self.timer.start_step()

    def on_step_end(self, args, state, control, **kw):
        self.timer.finish_step()


class RunLogger(TrainerCallback):
    """Checkpoint-aligned metrics: W&B (offline without an API key) and `<output_dir>/metrics.jsonl`.

    Args:
        output_dir: The run directory.
        report_to: "wandb" or "none" (metrics.jsonl is always written).
        project: W&B project.
        run_name: W&B run name.
        config: The run config (logged to W&B).
        step_metrics: Returns figures of the step that just ended (timing, counters), merged into its row.
        extra_rows: Given a step, returns extra W&B entries to log with it (e.g. rollout tables). Called when the
            step is logged, so that an entry shows that step's state; sent to W&B with the step's row.
    """

    def __init__(
        self,
        output_dir: str,
        report_to: str,
        project: str,
        run_name: str | None,
        config: dict[str, Any],
        step_metrics: Callable[[], dict[str, float]] | None = None,
        extra_rows: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.report_to = report_to
        self.project = project
        self.run_name = run_name
        self.config = config
        self.step_metrics = step_metrics
        self.extra_rows = extra_rows
        self.pending: list[dict[str, Any]] = []
        # W&B-only entries of the pending rows, by step (tables: not written into checkpoints, so not resumed)
        self.pending_extras: dict[int, dict[str, Any]] = {}
        self.run = None
        self.metrics_path = self.output_dir / "metrics.jsonl"

    # -- lifecycle ------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kw):
        if not state.is_world_process_zero:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.report_to == "wandb":
            self.run = _init_wandb(self.output_dir, self.project, self.run_name, self.config)
        # Resume: rows saved inside the checkpoint but never flushed (a kill right after the save).
        resume_from = kw.get("resume_from_checkpoint") or _latest_checkpoint_at(self.output_dir, state.global_step)
        if resume_from:
            self._flush(_read_jsonl(Path(resume_from) / PENDING_FILE))

    def on_log(self, args, state, control, logs=None, **kw):
        if not state.is_world_process_zero or not logs:
            return
        row = {k: v for k, v in logs.items() if isinstance(v, (int, float))}
        if self.step_metrics is not None:
            row.update(self.step_metrics())
        row["step"] = state.global_step
        if self.pending and self.pending[-1]["step"] == row["step"]:
            self.pending[-1].update(row)
        else:
            self.pending.append(row)
        if self.run is not None and self.extra_rows is not None:
            self.pending_extras[row["step"]] = self.extra_rows(row["step"])

    def on_save(self, args, state, control, **kw):
        if not state.is_world_process_zero:
            return
        ckpt = self.output_dir / f"checkpoint-{state.global_step}"
        rows = [r for r in self.pending if r["step"] <= state.global_step]
        if ckpt.is_dir():
            _write_jsonl(ckpt / PENDING_FILE, rows)
        self._flush(rows)
        self.pending = [r for r in self.pending if r["step"] > state.global_step]

    def on_train_end(self, args, state, control, **kw):
        if not state.is_world_process_zero:
            return
        self._flush(self.pending)
        self.pending = []
        if self.run is not None:
            self.run.finish()
            self.run = None

    # -- output ---------------------------------------------------------------------------------------
    def _flush(self, rows: list[dict[str, Any]]) -> None:
        done = _logged_steps(self.metrics_path)
        rows = [r for r in rows if r["step"] not in done]
        if not rows:
            return
        with self.metrics_path.open("a", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.run is not None:
            for r in rows:
                self.run.log({k: v for k, v in r.items() if k != "step"}, step=r["step"])
                for key, value in self.pending_extras.pop(r["step"], {}).items():
                    self.run.log({key: value}, step=r["step"])


def refuse_stale_run(output_dir: Path, resume: bool) -> None:
    """Stops a fresh run from landing on a previous run's outputs.

    RunLogger skips steps that metrics.jsonl already holds and W&B resumes the id in `wandb_run_id`, so a
    second run in the same directory would drop its own metrics and mix its W&B history with the old one's.

    Raises:
        FileExistsError: naming the directory and what it holds.
    """
    if resume or not output_dir.is_dir():
        return
    stale = sorted(p.name for p in output_dir.glob("checkpoint-*"))
    stale += [n for n in ("metrics.jsonl", "wandb_run_id", "final") if (output_dir / n).exists()]
    if stale:
        raise FileExistsError(
            f"trainer.output_dir={output_dir} holds a previous run ({', '.join(stale)}): pass --resume to "
            "continue it, or choose another output_dir"
        )


def _init_wandb(output_dir: Path, project: str, run_name: str | None, config: dict[str, Any]):
    import wandb

    if not os.environ.get("WANDB_API_KEY") and not os.environ.get("WANDB_MODE"):
        os.environ["WANDB_MODE"] = "offline"  # no key: keep everything on disk; `wandb sync` uploads later
    id_file = output_dir / "wandb_run_id"
    run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:12]
    id_file.write_text(run_id)
    return wandb.init(
        project=project, name=run_name, id=run_id, resume="allow", dir=str(output_dir), config=config, reinit="create_new"
    )


def _latest_checkpoint_at(output_dir: Path, step: int) -> str | None:
    p = output_dir / f"checkpoint-{step}"
    return str(p) if step > 0 and p.is_dir() else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _logged_steps(path: Path) -> set[int]:
    return {r["step"] for r in _read_jsonl(path)}
