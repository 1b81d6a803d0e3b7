"""launch/common.py: evaluating models on several benchmarks with one set of rollout workers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Evaluates two models (tiny-random, then a perturbed copy) on 4 toolgym tasks and 2 BFCL tasks (one-message ones and
# multi-message ones): over Ray with one player kept open across both (then the second model again after its worker
# died), and in this process. Prints the results and the RolloutWorker actors this job started.
SCRIPT = """
import json, sys
from pathlib import Path
import ray, torch
from launch.common import evaluate_into
from launch.eval import load_benchmark
from rl.checkpoint import load_policy, save_checkpoint
from rl.config import load_config
from rl.eval.evaluate import EpisodePlayer

out = Path(sys.argv[1])
model, tok = load_policy("tiny-random")
torch.manual_seed(1)
with torch.no_grad():
    for p in model.parameters():
        p.add_(0.05 * torch.randn_like(p))
other = str(save_checkpoint(model, tok, out / "other", merge=True, stage="sft", step=1, base="tiny-random",
                            tool_format={"name": "pythonic"}, config={}))
cfg = load_config("configs/eval.yaml", ["rollout.max_new_tokens=8", "rollout.num_workers=1"], stage="eval")
benches = {"toolgym": load_benchmark(cfg, "toolgym", None, 4),
           "bfcl": load_benchmark(cfg, "bfcl", ["simple_python", "multi_turn_base"], 1)}
models = {"a": "tiny-random", "b": other}
got = {"ray": {}, "local": {}}
with EpisodePlayer(cfg, 1) as player:
    for label, spec in models.items():
        got["ray"][label] = evaluate_into(cfg, spec, benches, out / "ray", label, workers=1, batch_size=2, player=player)
    # A worker that dies comes back from its constructor (the first model): the pool loads the current one again.
    ray.get(player._pool.crash_worker.remote(0))
    got["restarted"] = evaluate_into(cfg, other, {"toolgym": benches["toolgym"]}, out / "restarted", "b", workers=1,
                                     batch_size=2, player=player)["toolgym"]
for label, spec in models.items():
    got["local"][label] = evaluate_into(cfg, spec, benches, out / "local", label, workers=0, batch_size=2)
from ray.util.state import list_actors
job = ray.get_runtime_context().get_job_id()
workers = [a for a in list_actors(filters=[("class_name", "=", "RolloutWorker")], limit=1000) if a.job_id == job]
print(json.dumps({**got, "rollout_workers": len(workers)}))
"""


@pytest.mark.integration
def test_two_models_on_two_benchmarks_share_one_worker_and_equal_the_in_process_runs(ray_head, tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=ray_head.joined(ray_head.env),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # Both models, toolgym's tasks, then BFCL's one-message task (simple_python) and its multi-turn one: one worker.
    assert got["rollout_workers"] == 1
    replies = {}
    for label in ("a", "b"):
        for bench in ("toolgym", "bfcl"):
            over_ray, local = (json.loads(Path(got[way][label][bench]).read_text()) for way in ("ray", "local"))
            assert len(over_ray["per_task"]) == (4 if bench == "toolgym" else 2)
            assert over_ray["per_task"] == local["per_task"]  # the same greedy replies and verdicts
            replies[label, bench] = over_ray["per_task"]
    assert replies["a", "toolgym"] != replies["b", "toolgym"]  # the worker played the second model's weights
    assert json.loads(Path(got["restarted"]).read_text())["per_task"] == replies["b", "toolgym"]
    bfcl = json.loads(Path(got["ray"]["a"]["bfcl"]).read_text())
    assert {r["category"] for r in bfcl["per_task"]} == {"simple_python", "multi_turn_base"}
