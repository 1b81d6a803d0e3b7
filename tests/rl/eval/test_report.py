"""rl/eval/report.py: the demo report's headline table."""

import json

import pytest

from rl.eval.evaluate import aggregate
from rl.eval.report import write_report


def _results(tmp_path, label: str, irrelevance_passed: int) -> dict[str, str]:
    toolgym = [{"id": f"t{i}", "category": "simple", "domain": "d", "reward": 1.0, "ast_valid": i % 2 == 0,
                "exec_valid": True} for i in range(10)]
    # 20 tasks in each calling category (5 pass), all 240 irrelevance tasks.
    bfcl = [{"id": f"{c}_{i}", "category": c, "reward": 0.0, "valid": i < 5}
            for c in ("simple_python", "multiple", "parallel", "parallel_multiple", "live_simple") for i in range(20)]
    bfcl += [{"id": f"irrelevance_{i}", "category": "irrelevance", "reward": 0.0, "valid": i < irrelevance_passed}
             for i in range(240)]
    paths = {}
    for bench, rows in (("toolgym", toolgym), ("bfcl", bfcl)):
        path = tmp_path / f"{label}_{bench}.json"
        path.write_text(json.dumps({"model": label, "benchmark": bench, "per_task": rows, **aggregate(rows, bench)}))
        paths[bench] = str(path)
    return paths


def test_the_bfcl_column_applies_bfcls_weights_so_a_category_run_in_full_does_not_outweigh_the_others(tmp_path):
    results = {"base": _results(tmp_path, "base", 240), "sft": _results(tmp_path, "sft", 120),
               "grpo": _results(tmp_path, "grpo", 180)}
    report = write_report(tmp_path, results, sft={"final": "sft"}, rl={"final": "grpo", "output_dir": str(tmp_path)},
                          rl_label="grpo", export={"out": "export"}, elapsed="1:00", stages={})
    text = report.read_text()
    assert "n = 340 (simple_python 20, multiple 20, parallel 20, parallel_multiple 20, irrelevance 240, live_simple 20)" in text
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in text.splitlines() if line.startswith("| ")}
    # sft: non-live 25, live 25, irrelevance 50, weighted 10/10/10 -> 33.3; the mean over all 340 tasks would be 47.1.
    overall, non_live, irrelevance = rows["sft"][4:7]
    assert float(overall) == pytest.approx(100 / 3, abs=0.06)
    assert (float(non_live), float(irrelevance.strip(" |"))) == (25.0, 50.0)
    assert float(rows["grpo"][4]) == pytest.approx(125 / 3, abs=0.06)
