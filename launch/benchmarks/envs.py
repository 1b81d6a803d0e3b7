"""Benchmark of the environments: simulated tool calls per second and generated tasks per second.

`python launch/bench.py envs` prints `run()`'s dict as JSON. Everything runs in this process on one
core (pinned when the OS allows it), with the default limits (1 s call timeout, 1000-character outputs),
so the figures include validation, the watchdog and output copying.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from envs import make_env, tasks
from envs.types import ToolCall


def _pin_one_core() -> tuple[str, set[int] | None]:
    """Pins this process to one CPU; returns a description and the previous affinity (to restore)."""
    if hasattr(os, "sched_setaffinity"):
        before = os.sched_getaffinity(0)
        cpu = min(before)
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}", before
    return "not pinned (no sched_setaffinity)", None


def _rate(fn: Any, min_seconds: float) -> tuple[float, int]:
    """Calls fn() (which does `k` units of work and returns k) until min_seconds pass; units per second."""
    done, start = 0, time.perf_counter()
    while True:
        done += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed, done


def bench_calls(min_seconds: float = 1.0) -> dict[str, float]:
    """Tool calls per second: read-only lookups ("simple") and a state-changing mix."""
    env = make_env(["weather", "calculator", "banking"])
    env.reset(seed=0)
    state = env.state()
    city = next(iter(state["weather"]["cities"]))
    accounts = list(state["banking"]["accounts"])
    simple = [
        ToolCall("get_current_weather", {"city": city}),
        ToolCall("convert_units", {"value": 12.5, "from_unit": "miles", "to_unit": "kilometers"}),
        ToolCall("get_balance", {"account_id": accounts[0]}),
        ToolCall("basic_math", {"operation": "multiply", "a": 6, "b": 7}),
    ]
    # Money moves back and forth so the state (and the cost of a call) stays the same size.
    writes = [
        ToolCall("transfer_funds", {"from_account": accounts[0], "to_account": accounts[1], "amount": 1.0}),
        ToolCall("transfer_funds", {"from_account": accounts[1], "to_account": accounts[0], "amount": 1.0}),
        ToolCall("store_variable", {"name": "x", "value": 3.0}),
        ToolCall("subscribe_alerts", {"city": city, "alert_types": ["rain"]}),
    ]

    def run_simple() -> int:
        for _ in range(250):
            for call in simple:
                env.step([call])
        return 250 * len(simple)

    def run_writes() -> int:
        env.reset(seed=0)  # bound the growth of the ledger and alert lists
        for _ in range(50):
            for call in writes:
                env.step([call])
        return 50 * len(writes)

    simple_rate, n_simple = _rate(run_simple, min_seconds)
    write_rate, n_writes = _rate(run_writes, min_seconds)
    env.close()
    return {"simple_calls_per_s": round(simple_rate), "simple_calls_measured": n_simple,
            "state_changing_calls_per_s": round(write_rate), "state_changing_calls_measured": n_writes}


def bench_generation(n: int = 2000) -> dict[str, float]:
    """Tasks generated per second (each with its expected state replayed), for generate(n, "train", seed=0)."""
    tasks.generate(20, "train", seed=1)  # warm-up: schema caches, envs
    start = time.perf_counter()
    out = tasks.generate(n, "train", seed=0)
    elapsed = time.perf_counter() - start
    return {"tasks_per_s": round(len(out) / elapsed), "tasks_generated": len(out)}


def run() -> dict[str, Any]:
    """Both benchmarks; returns a JSON-serialisable dict of the figures."""
    pinned, before = _pin_one_core()
    try:
        return {
            **bench_calls(),
            **bench_generation(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "affinity": pinned,
        }
    finally:
        if before is not None:  # other benchmarks may run in this process after us
            os.sched_setaffinity(0, before)


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
