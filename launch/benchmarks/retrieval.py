"""Benchmark of tool retrieval alone: recall@1/5/10 of the golden tools over the whole pool, and queries per second.

`python launch/bench.py retrieval` prints `run()`'s dict as JSON. The query is the task's first user message, as
the user wrote it; the golden tools are those its ground truth calls. Held-out tasks only: toolgym's `test`
split (tasks that call a tool; irrelevance tasks have no golden tool) and BFCL's single-turn categories. Each
task's recall@k is the share of its golden tools among the top k of the pool (envs/tool_pool.py, 3,600+ tools,
near-duplicates included); the figure is the mean over tasks.
"""

from __future__ import annotations

import time
from typing import Any

from envs import tool_pool
from envs.retrieval import BM25Retriever
from envs.types import Task

KS = (1, 5, 10)
BFCL_CATEGORIES = ("simple_python", "multiple", "parallel_multiple", "live_simple", "live_multiple")


def held_out_tasks(toolgym_n: int, bfcl_per_category: int) -> dict[str, list[Task]]:
    """The benchmark's tasks by source, each with at least one golden tool."""
    from envs import bfcl, tasks

    toolgym = tasks.generate(toolgym_n, "test", seed=0)
    out = {"toolgym": [t for t in toolgym if any(turn for turn in t.ground_truth)]}
    if bfcl_per_category:
        out["bfcl"] = [t for c in BFCL_CATEGORIES for t in bfcl.load(c, limit=bfcl_per_category)]
    return out


def recall_at(retriever: BM25Retriever, tasks: list[Task], ks: tuple[int, ...] = KS) -> dict[str, float]:
    """Mean recall@k of the golden tools, using each task's first user message as the query."""
    pool = retriever.pool
    queries = [t.turns[0][-1]["content"] for t in tasks]
    hits = retriever.search_many(queries, max(ks))
    out = {}
    for k in ks:
        per_task = []
        for task, found in zip(tasks, hits, strict=True):
            golden = set(pool.ids_of(task))
            top = {tool.id for tool, _ in found[:k]}
            per_task.append(len(golden & top) / len(golden))
        out[f"recall@{k}"] = sum(per_task) / len(per_task)
    return out


def run(toolgym_n: int = 400, bfcl_per_category: int = 100, min_seconds: float = 1.0) -> dict[str, Any]:
    """Recall on each source, index build time, and single-query throughput (a query at a time, top 10)."""
    t = time.perf_counter()
    pool = tool_pool.load()
    built_s = time.perf_counter() - t
    t = time.perf_counter()
    retriever = BM25Retriever(pool)
    index_s = time.perf_counter() - t
    sources = held_out_tasks(toolgym_n, bfcl_per_category)
    queries = [task.turns[0][-1]["content"] for tasks in sources.values() for task in tasks]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        retriever.search(queries[done % len(queries)], 10)
        done += 1
    qps = done / (time.perf_counter() - start)
    return {
        "retriever": "bm25 (bm25s)",
        "pool_tools": len(pool),
        "pool_build_s": round(built_s, 3),
        "index_s": round(index_s, 3),
        "queries_per_s": round(qps, 1),
        **{name: {"tasks": len(tasks), **{k: round(v, 4) for k, v in recall_at(retriever, tasks).items()}}
           for name, tasks in sources.items()},
    }
