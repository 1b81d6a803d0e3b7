"""One-step-off-policy GRPO against synchronous GRPO: wall time per step (`python launch/bench.py async`).

Two GRPO runs of `launch/train.py` on the demo's config (configs/demo.yaml: its rollout limits, rewards, LoRA and
micro-batching), equal in everything but `algorithm.async_rollouts`, from the packaged SmolLM2-135M (no demo run
needed), 4 tasks x 4 episodes a step for 4 steps. Cores: one rollout worker of one torch thread
and one learner of one thread, so each side owns one of this machine's two cores; the synchronous run gets the
same split (equal settings), and one side waits while the other works.

Each run is a child process with its own local Ray, as `make demo` runs its stages. The figure is the mean of
`timing/step_s` over the steps after the first (the first step plays its episodes before it can learn in both
runs, and pays the first forward's warm-up); `async_step_speedup` is synchronous over async. The async run's
importance ratios (`async/*`, rl/train/grpo.py) and staleness are reported for every step: the first step is
on-policy, so its `async/logp_gap_mean` is the gap between the workers' log-probs and the learner's at the same
weights.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from launch.common import ROOT, run_child

GOAL_SPEEDUP = 1.3


def _step_times(out: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if "timing/step_s" in r]


def run(model: str = "smollm2-135m", steps: int = 4, prompts_per_step: int = 4, num_generations: int = 4,
        overrides: list[str] | None = None) -> dict[str, Any]:
    """Runs the pair and compares their step times.

    Args:
        model: The policy (an alias or a checkpoint).
        steps: Optimizer steps per run (at least 2: the first is not counted).
        prompts_per_step: Tasks per step.
        num_generations: Episodes per task.
        overrides: More `key=value` overrides for both runs (tests shrink the episodes).
    """
    if steps < 2:
        raise ValueError("steps: at least 2 (the first step is not counted)")
    common = [
        f"model.name_or_path={model}", f"trainer.max_steps={steps}", f"trainer.save_steps={steps}",
        f"algorithm.prompts_per_step={prompts_per_step}", f"algorithm.num_generations={num_generations}",
        f"trainer.gradient_accumulation_steps={prompts_per_step}",
        "rollout.num_workers=1", "rollout.torch_threads=1", "trainer.torch_threads=1",
        "logging.report_to=none", "eval.every_n_steps=0", *(overrides or []),
    ]
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="toolgym-async-bench-") as tmp:
        for name, flag in (("sync", "false"), ("async", "true")):
            out = Path(tmp) / name
            t = time.perf_counter()
            run_child("train.py", ROOT / "configs" / "demo.yaml",
                      [*common, f"algorithm.async_rollouts={flag}", f"trainer.output_dir={out}"],
                      stdout=sys.stderr)  # the JSON alone goes to stdout
            rows = _step_times(out)
            later = rows[1:]
            runs[name] = {
                "wall_s": round(time.perf_counter() - t, 1),
                "step_s": [round(r["timing/step_s"], 1) for r in rows],
                "mean_step_s_after_first": round(statistics.mean(r["timing/step_s"] for r in later), 2),
                "learner_wait_for_rollouts_s": round(statistics.mean(r.get("timing/rollout_s", 0.0) for r in later), 2),
                "train_s": round(statistics.mean(r["timing/train_s"] for r in later), 2),
                "generate_s": round(statistics.mean(r["timing/generate_s"] for r in later), 2),
                "staleness": [r.get("rollout/staleness") for r in rows],
            }
            if flag == "true":
                runs[name].update({k: [round(r[k], 4) for r in rows if k in r] for k in
                                   ("async/is_ratio_mean", "async/is_ratio_outside_clip_frac", "async/logp_gap_mean",
                                    "clip_ratio/region_mean")})
    sync, asyn = runs["sync"]["mean_step_s_after_first"], runs["async"]["mean_step_s_after_first"]
    return {
        "settings": {"config": "configs/demo.yaml", "overrides": common},
        **runs,
        "async_step_speedup": round(sync / asyn, 3),
        "goal_async_step_speedup": GOAL_SPEEDUP,
    }
