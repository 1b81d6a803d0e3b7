"""Evaluation workers (`python launch/bench.py eval`): what a new set of rollout workers costs per evaluated model.

The demo evaluates three models (base, SFT, RL) on the same tasks. With a player of its own, each evaluation starts
new Ray rollout workers: processes that import torch, load the model and fault in their memory afresh (about 2 GiB
each; README, Results: Fresh memory). With one `EpisodePlayer` kept open across the models
(`launch.common.evaluate_into(..., player=...)`, as launch/demo.py does), the same worker processes load each next
model in place (`RolloutPool.switch_policy`).

Measured here, on the demo's first `tasks` held-out toolgym tasks with its evaluation config, 2 workers and batches
of 50: three evaluations of SmolLM2-135M, named by its alias, by its converted directory, then by its alias again, so
that every evaluation generates the same tokens and the next one loads a model anew. Each round runs the three with
players of their own (`own_s`), then the three with one player (`shared_s`); `shared_speedup` is the ratio of the
two totals' medians over the rounds, and `identical` says whether all six evaluations of every round gave the same
per-task results. The first evaluation of either way also starts its workers, so the saving per later model is
`(own_s - shared_s) / 2`.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path


def run(tasks: int = 100, rounds: int = 2, workers: int = 2) -> dict:
    from launch.common import evaluate_into
    from launch.demo import DemoPlan
    from rl.config import load_config
    from rl.data import load_tasks
    from rl.eval.evaluate import EpisodePlayer
    from rl.models import resolve

    cfg = load_config(DemoPlan.eval_config, stage="eval")
    benches = {"toolgym": load_tasks(cfg.data, "test", n=tasks)}
    specs = [cfg.model.name_or_path, str(resolve(cfg.model.name_or_path, allow_download=False)), cfg.model.name_or_path]
    own, shared, identical = [], [], True
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            results = []
            for way, totals in (("own", own), ("shared", shared)):
                out = Path(tmp) / f"{way}{r}"
                t = time.perf_counter()
                with EpisodePlayer(cfg, workers) as one_player:  # started only if the shared way plays on it
                    for i, spec in enumerate(specs):
                        paths = evaluate_into(cfg, spec, benches, out, f"m{i}", workers=workers, batch_size=50,
                                              player=one_player if way == "shared" else None)
                        results.append(json.loads(Path(paths["toolgym"]).read_text())["per_task"])
                totals.append(time.perf_counter() - t)
            identical &= all(res == results[0] for res in results)
    return {
        "tasks": tasks,
        "evaluations": len(specs),
        "own_s": [round(s, 1) for s in own],
        "shared_s": [round(s, 1) for s in shared],
        "shared_speedup": round(statistics.median(own) / statistics.median(shared), 3),
        "saved_per_model_s": round((statistics.median(own) - statistics.median(shared)) / (len(specs) - 1), 1),
        "identical": identical,
    }
