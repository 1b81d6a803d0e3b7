"""`python launch/bench.py rollout` on tiny-random at tiny sizes: the JSON has every figure, and the checks hold."""

import pytest

pytestmark = pytest.mark.integration


def test_rollout_bench_reports_every_figure():
    from rl.bench_rollout import run

    out = run("tiny-random", quick=True)
    pool = out["pool_throughput"]
    assert pool["generate"]["tokens_per_s"] > 0
    for name in ("pool_1w", "pool_2w"):
        assert {"tokens_per_s", "ratio_vs_generate", "overhead_pct", "goal_overhead_pct"} <= pool[name].keys()
        assert pool[name]["same_tokens"]  # the pool and plain generate decoded the same greedy tokens
    lock = out["lockstep"]
    assert {"lockstep_s", "one_by_one_s", "ratio", "goal_ratio", "kv_reuse"} <= lock.keys()
    assert lock["same_episodes"] and lock["kv_reuse"]["same_episodes"]
    assert lock["kv_reuse"]["prefill_tokens_reused_on"] > 0
    assert out["weight_sync"]["round_trip_s"] > 0 and out["weight_sync"]["workers_at_latest_version"]
