"""launch/ablate.py: every row keeps the data budget, and the table pairs each recipe with the baseline."""

import json

from launch.ablate import BUDGET, COLUMNS, ROWS, SFT_CONFIG, render_table
from rl.config import load_config


def test_every_row_loads_and_keeps_the_same_data_budget(tmp_path):
    for name, (_, overrides) in ROWS.items():
        cfg = load_config(SFT_CONFIG, [o.format(chat=tmp_path / "c.jsonl") for o in overrides], stage="sft")
        s = cfg.sft
        fc = cfg.data.train_size
        non_fc = round(fc * s.non_fc_ratio / (1 - s.non_fc_ratio))  # what rl.train.sft_data.build_examples adds
        chat = round((fc + non_fc) * s.chat_mix_ratio / (1 - s.chat_mix_ratio))
        assert fc + non_fc + chat == BUDGET, name


def _result(path, bench, rows):
    path.write_text(json.dumps({"benchmark": bench, "per_task": rows}))
    return str(path)


def test_table_has_a_paired_ci_against_the_baseline_per_column(tmp_path):
    def files(name, good):
        bfcl = [{"id": f"{c}_{i}", "category": c, "valid": i < good} for c in
                ("simple_python", "live_simple", "irrelevance", "live_relevance") for i in range(10)]
        tg = [{"id": f"t{i}", "category": "simple", "ast_valid": i < good, "reward": float(i < good)} for i in range(10)]
        return {"bfcl": _result(tmp_path / f"{name}_b.json", "bfcl", bfcl),
                "toolgym": _result(tmp_path / f"{name}_t.json", "toolgym", tg)}

    table = render_table({"baseline": files("baseline", 3), "better": files("better", 8)}, {"better": "more"}, {})
    line = next(row for row in table.splitlines() if row.startswith("| better"))
    assert line.count("[") == len(COLUMNS)  # a CI in every column
    assert "80.0 (+50.0 [" in line and "0.800 (+0.500 [" in line
    assert next(r for r in table.splitlines() if r.startswith("| baseline")).count("[") == 0
