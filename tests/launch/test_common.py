"""launch/common.py: evaluating one model on several benchmarks with one set of rollout workers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Evaluates tiny-random on 4 toolgym tasks and 2 BFCL tasks (one-message ones and multi-message ones), over Ray
# workers and in this process, then prints both results and the RolloutWorker actors this job started.
SCRIPT = """
import json, sys
from pathlib import Path
import ray
from launch.common import evaluate_into
from launch.eval import load_benchmark
from rl.config import load_config

out = Path(sys.argv[1])
cfg = load_config("configs/eval.yaml", ["rollout.max_new_tokens=8", "rollout.num_workers=1"], stage="eval")
benches = {"toolgym": load_benchmark(cfg, "toolgym", None, 4),
           "bfcl": load_benchmark(cfg, "bfcl", ["simple_python", "multi_turn_base"], 1)}
ray_paths = evaluate_into(cfg, "tiny-random", benches, out / "ray", "m", workers=1, batch_size=2)
local_paths = evaluate_into(cfg, "tiny-random", benches, out / "local", "m", workers=0, batch_size=2)
from ray.util.state import list_actors
job = ray.get_runtime_context().get_job_id()
workers = [a for a in list_actors(filters=[("class_name", "=", "RolloutWorker")], limit=1000) if a.job_id == job]
print(json.dumps({"ray": ray_paths, "local": local_paths, "rollout_workers": len(workers)}))
"""


@pytest.mark.integration
def test_one_model_on_two_benchmarks_starts_its_workers_once_and_equals_the_in_process_run(ray_head, tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=ray_head.joined(ray_head.env),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # toolgym's tasks, then BFCL's one-message task (simple_python) and its multi-turn one: one worker for all.
    assert got["rollout_workers"] == 1
    for bench in ("toolgym", "bfcl"):
        over_ray, local = (json.loads(Path(got[way][bench]).read_text()) for way in ("ray", "local"))
        assert len(over_ray["per_task"]) == (4 if bench == "toolgym" else 2)
        assert over_ray["per_task"] == local["per_task"]  # the same greedy replies and verdicts
    bfcl = json.loads(Path(got["ray"]["bfcl"]).read_text())
    assert {r["category"] for r in bfcl["per_task"]} == {"simple_python", "multi_turn_base"}
