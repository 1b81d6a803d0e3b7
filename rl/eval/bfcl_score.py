"""BFCL v4's summary scores and its weighted overall score, from per-category accuracies.

The rules are those of `bfcl_eval/eval_checker/eval_runner_helper.py` (`generate_leaderboard_csv`):

    non-live     unweighted mean of simple, multiple, parallel, parallel_multiple, where simple is the
                 unweighted mean of simple_python, simple_java and simple_javascript
    live         the four live AST categories, weighted by their task counts
    irrelevance  unweighted mean of irrelevance and live_irrelevance
    relevance    live_relevance (reported, not part of the overall score)
    multi-turn   unweighted mean of the four multi-turn categories
    agentic      unweighted mean of web search (base, no_snippet) and memory (kv, vector, rec_sum)
    overall      non-live, live, irrelevance, multi-turn and agentic weighted 10/10/10/30/40

format_sensitivity is not part of any summary (BFCL: a non-scoring category). `format_sensitivity` reports it as
BFCL's `format_sensitivity_runner` (eval_runner.py) does: the accuracy of each prompt variant, and how much they
differ (the largest difference and the sample standard deviation, in points; the leaderboard shows both).

BFCL counts a category that was not run as 0 in the overall score. Here a summary with any category missing is
None ("N/A"), so a partial run never looks like a leaderboard number. Beside it, `partial` applies the same rules
to the categories that did run (an overall over the groups that ran, their weights renormalised), labelled with
what it covers. `LEADERBOARD_WEIGHTS` is a copy; a test reads BFCL's source and checks it.
"""

from __future__ import annotations

import statistics
from typing import Any

# Every scoring category of BFCL v4, grouped as BFCL groups them (bfcl_eval/constants/category_mapping.py).
SIMPLE = ("simple_python", "simple_java", "simple_javascript")
NON_LIVE_AST = ("multiple", "parallel", "parallel_multiple")
LIVE_AST = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
IRRELEVANCE = ("irrelevance", "live_irrelevance")
RELEVANCE = ("live_relevance",)
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
WEB_SEARCH = ("web_search_base", "web_search_no_snippet")
MEMORY = ("memory_kv", "memory_vector", "memory_rec_sum")
ALL_CATEGORIES = (*SIMPLE, *NON_LIVE_AST, *IRRELEVANCE, *LIVE_AST, *RELEVANCE, *MULTI_TURN, *WEB_SEARCH, *MEMORY,
                  "format_sensitivity")
LEADERBOARD_WEIGHTS = {"non_live": 10, "live": 10, "irrelevance": 10, "multi_turn": 30, "agentic": 40}

# Why a category cannot run here. Everything else runs (envs.bfcl loads it, rl.eval.evaluate scores it).
NOT_RUN = {
    "web_search_base": "needs the live web (its API calls a search engine); this machine reaches package registries only",
    "web_search_no_snippet": "needs the live web (its API calls a search engine); this machine reaches package registries only",
    "memory_vector": "BFCL's vector backend loads the all-MiniLM-L6-v2 sentence-embedding model from the Hugging Face "
                     "hub when its module is imported (with sentence-transformers and faiss); no model is downloaded "
                     "at run time",
}

Score = tuple[float, int]  # (accuracy, number of tasks)


def _unweighted(parts: list[Score | None]) -> Score | None:
    ran = [p for p in parts if p is not None]
    return (sum(a for a, _ in ran) / len(ran), sum(n for _, n in ran)) if ran else None


def _weighted(parts: list[Score | None]) -> Score | None:
    ran = [p for p in parts if p is not None and p[1] > 0]
    total = sum(n for _, n in ran)
    return (sum(a * n for a, n in ran) / total, total) if ran else None


def _groups(scores: dict[str, Score]) -> dict[str, tuple[Score | None, bool]]:
    """Each summary over the categories in `scores`: (score or None if none ran, whether every category ran)."""

    def get(cats: tuple[str, ...]) -> list[Score | None]:
        return [scores.get(c) for c in cats]

    def complete(*cats: tuple[str, ...]) -> bool:
        return all(c in scores for group in cats for c in group)

    simple = _unweighted(get(SIMPLE))
    web, memory = _unweighted(get(WEB_SEARCH)), _unweighted(get(MEMORY))
    return {
        "non_live": (_unweighted([simple, *get(NON_LIVE_AST)]), complete(SIMPLE, NON_LIVE_AST)),
        "live": (_weighted(get(LIVE_AST)), complete(LIVE_AST)),
        "irrelevance": (_unweighted(get(IRRELEVANCE)), complete(IRRELEVANCE)),
        "relevance": (_unweighted(get(RELEVANCE)), complete(RELEVANCE)),
        "multi_turn": (_unweighted(get(MULTI_TURN)), complete(MULTI_TURN)),
        "web_search": (web, complete(WEB_SEARCH)),
        "memory": (memory, complete(MEMORY)),
        "agentic": (_unweighted([web, memory]), complete(WEB_SEARCH, MEMORY)),
    }


def summarize(scores: dict[str, Score]) -> dict[str, Any]:
    """BFCL's summaries and overall score from per-category `(accuracy, n)`.

    Args:
        scores: The categories that ran. A category absent from it did not run.

    Returns:
        `{"summaries": {group: accuracy or None}, "partial": {group: accuracy or None, "overall": ...,
        "overall_covers": {group: weight}, "label": ...}}`. A summary is None unless every one of its
        categories ran; `summaries["overall"]` is None unless every scoring category ran.
    """
    groups = _groups(scores)
    official = {g: (s[0] if s is not None and done else None) for g, (s, done) in groups.items()}
    partial: dict[str, Any] = {g: (s[0] if s is not None else None) for g, (s, _) in groups.items()}
    covers = {g: w for g, w in LEADERBOARD_WEIGHTS.items() if partial[g] is not None}
    official["overall"] = (sum(official[g] * w for g, w in LEADERBOARD_WEIGHTS.items()) / sum(LEADERBOARD_WEIGHTS.values())
                           if all(official[g] is not None for g in LEADERBOARD_WEIGHTS) else None)
    partial["overall"] = sum(partial[g] * w for g, w in covers.items()) / sum(covers.values()) if covers else None
    partial["overall_covers"] = covers
    partial["label"] = ("partial: BFCL's rules over the categories that ran, with the overall's weights renormalised "
                        "over the groups that ran; not a leaderboard number")
    return {"summaries": official, "partial": partial}


def format_sensitivity(per_config: dict[str, Score], complete: bool = False) -> dict[str, Any]:
    """BFCL's format-sensitivity figures from each prompt variant's `(accuracy, n)`.

    Args:
        per_config: The variants that ran (BFCL config string -> score).
        complete: Whether every variant ran on every task of BFCL's list (else the figures are labelled partial).

    Returns:
        `{"accuracy", "n"}` over every variant's tasks (the category's accuracy), `accuracy_max_delta`,
        `accuracy_variance` and `accuracy_std` across the variants' accuracies (points and points squared, rounded
        to 2 decimals, as BFCL writes them; 0 with fewer than two variants), `configs`: `{config: {"accuracy",
        "n"}}`, `complete`, and a `label` when not complete.
    """
    accs = [a for a, _ in per_config.values()]
    n = sum(k for _, k in per_config.values())
    spread = len(accs) > 1
    out: dict[str, Any] = {
        "accuracy": sum(a * k for a, k in per_config.values()) / n if n else None,
        "n": n,
        "accuracy_max_delta": round((max(accs) - min(accs)) * 100, 2) if spread else 0.0,
        "accuracy_variance": round(statistics.variance(accs) * 100**2, 2) if spread else 0.0,
        "accuracy_std": round(statistics.stdev(accs) * 100, 2) if spread else 0.0,
        "configs": {c: {"accuracy": a, "n": k} for c, (a, k) in per_config.items()},
        "complete": complete,
    }
    if not complete:
        out["label"] = "partial: over the variants and tasks that ran; not a leaderboard number"
    return out
