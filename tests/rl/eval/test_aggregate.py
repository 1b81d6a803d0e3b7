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


def test_bfcl_rows_of_prompt_variants_give_the_format_sensitivity_breakdown():
    from envs.bfcl_formats import CONFIGS

    rows = [{"id": f"format_sensitivity:{c}:t{k}", "category": "format_sensitivity", "reward": 0.0,
             "valid": k < i % 3, "prompt_format": c} for i, c in enumerate(CONFIGS) for k in range(2)]
    rows.append({"id": "simple_python_0", "category": "simple_python", "reward": 0.0, "valid": True})
    out = aggregate(rows, "bfcl")
    fs = out["format_sensitivity"]
    assert list(fs["configs"]) == list(CONFIGS)  # BFCL's order
    assert [v["accuracy"] for v in fs["configs"].values()] == [(i % 3) / 2 for i in range(26)]
    assert {v["n"] for v in fs["configs"].values()} == {2} and fs["n"] == 52
    assert out["categories"]["format_sensitivity"]["n"] == 52 and "not_run" not in out["categories"]["format_sensitivity"]
    assert fs["accuracy"] == pytest.approx(out["categories"]["format_sensitivity"]["valid"])
    assert fs["accuracy_max_delta"] == 100.0 and fs["complete"] is False  # 2 tasks per variant, not BFCL's 200
    assert "format_sensitivity" not in aggregate(rows[-1:], "bfcl")  # no variant ran: no breakdown
