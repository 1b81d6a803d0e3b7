"""rl/eval/evaluate.py: aggregation and paired comparison of open-mode rows (recall exists only where there are
golden tools to find)."""

import math

import pytest

from rl.eval.evaluate import aggregate, compare


def _row(i, category, recall, ast=True):
    return {"id": f"t{i}", "category": category, "domain": "d", "reward": 1.0, "ast_valid": ast, "exec_valid": ast,
            "valid": ast, "retrieval_recall": recall, "searches": 1}


def test_recall_is_averaged_over_the_tasks_that_have_golden_tools():
    rows = [_row(0, "simple", 1.0), _row(1, "simple", 0.0), _row(2, "irrelevance", None), _row(3, "irrelevance", None)]
    out = aggregate(rows, "toolgym")
    assert out["overall"]["retrieval_recall"] == pytest.approx(0.5)  # not 0.75: irrelevance has nothing to find
    assert math.isnan(out["categories"]["irrelevance"]["retrieval_recall"])
    assert out["overall"]["searches"] == 1.0 and out["overall"]["ast_valid"] == 1.0


def test_compare_pairs_recall_only_where_both_runs_have_it():
    a = {"benchmark": "toolgym", "model": "a", "per_task": [_row(0, "simple", 0.0), _row(1, "irrelevance", None)]}
    b = {"benchmark": "toolgym", "model": "b", "per_task": [_row(0, "simple", 1.0), _row(1, "irrelevance", None)]}
    d = compare(a, b)["deltas"]["overall"]
    assert d["retrieval_recall"]["n"] == 1 and d["retrieval_recall"]["delta"] == 1.0
    assert d["reward"]["n"] == 2
