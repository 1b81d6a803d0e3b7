"""The function-calling SFT recipes of Chen et al. ("Enhancing Function-Calling Capabilities in LLMs:
Strategies for Prompt Formats, Data Integration, and Multilingual Translation"), measured on SmolLM2-135M:

    python launch/ablate.py [--out runs/ablate] [--rows baseline,tools_role,...] [--fresh]

Every row is an SFT recipe (configs/sft_ablation.yaml plus the row's overrides) with the same data budget:
`BUDGET` training examples, whatever their kind. Every row is evaluated greedily on the same tasks: BFCL v4
(up to 100 tasks per category: non-live AST, live AST, irrelevance, relevance) and the 400 held-out toolgym
tasks of the demo, each in the row's own tool format. `<out>/table.md` has the paper-shaped table with each
row's paired-bootstrap CI95 against the baseline row. A killed grid resumes from the rows (and the
evaluations) that finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from launch.common import Stages, evaluate_into, fingerprint, run_child  # noqa: E402
from rl.config import FormatConfig, load_config, to_dict  # noqa: E402
from rl.models import cache_dir  # noqa: E402

SFT_CONFIG = ROOT / "configs" / "sft_ablation.yaml"
EVAL_CONFIG = ROOT / "configs" / "demo_eval.yaml"
BUDGET = 160  # training examples per row
CHAT_ROWS = 60  # self-chat rows made for the instruction-following row (its mix takes what it needs)
ABSTAIN = ["irrelevance", "missing_param"]
CALLING = ["simple", "multiple", "parallel", "parallel_multiple", "multi_step", "multi_turn"]


def _budget(non_fc: float = 0.0, chat: float = 0.0) -> list[str]:
    """Overrides that keep `BUDGET` examples: the task-made ones plus the non-FC and chat shares on top."""
    return [f"data.train_size={round(BUDGET * (1 - non_fc - chat))}", f"sft.non_fc_ratio={non_fc}",
            f"sft.chat_mix_ratio={chat / (1 - non_fc) if chat else 0.0}"]


# Each row: the paper's finding it tests, and its overrides of configs/sft_ablation.yaml.
ROWS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("function-calling data only, tools in the system prompt", _budget()),
    "tools_role": ("the tool list in a dedicated `tools` message", ["format.placement=tools_role", *_budget()]),
    "decision_non_fc": ("Decision Token + 30% synthetic non-function-call examples (needed tool removed)",
                        ["format.name=decision", *_budget(non_fc=0.3)]),
    "if_mix": ("20% instruction-following rows (the base model's own replies, no tools)",
               ["sft.chat_mix_path={chat}", *_budget(chat=0.2)]),
    "cot": ("a one-line rationale before the calls", ["sft.reasoning=true", *_budget()]),
    "abstain_data": ("irrelevance and missing-value tasks in the data (toolgym's own abstention replies)",
                     [f"data.categories=[{', '.join(CALLING + ABSTAIN)}]", *_budget()]),
    # The two rows that raised abstaining without losing BFCL non-live AST (tools_role: toolgym strict AST +3.5;
    # abstain_data: BFCL irrelevance +7.5); the Decision Token never called and the IF and CoT rows lost both.
    "best": ("the best combination: tools role + abstention data",
             ["format.placement=tools_role", f"data.categories=[{', '.join(CALLING + ABSTAIN)}]", *_budget()]),
}

BFCL_LIMITS = {  # tasks per category: at least 100 where the data has them
    "simple_python": 100, "multiple": 100, "parallel": 100, "parallel_multiple": 100,
    "live_simple": 100, "live_multiple": 100, "live_parallel": None, "live_parallel_multiple": None,
    "irrelevance": 100, "live_irrelevance": 100, "live_relevance": None,
}
TOOLGYM_TASKS = 400


@dataclasses.dataclass
class Grid:
    out: Path = Path("runs/ablate")
    rows: tuple[str, ...] = tuple(ROWS)
    eval_workers: int = 2
    eval_batch_size: int = 50


def run_grid(grid: Grid, fresh: bool = False) -> Path:
    """Trains and evaluates every row (reusing finished ones); writes `<out>/table.md`."""
    from envs import bfcl
    from rl.data import load_tasks

    out = grid.out.resolve()
    if fresh and out.exists():
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(out)
    # The demo's evaluation, with room for BFCL's longest live prompts (one live_multiple prompt has 1453 tokens).
    eval_cfg = load_config(EVAL_CONFIG, ["rollout.max_total_tokens=2048"], stage="eval")
    benches = {
        "toolgym": load_tasks(eval_cfg.data, "test", n=TOOLGYM_TASKS),
        "bfcl": [t for c, n in BFCL_LIMITS.items() for t in bfcl.load(c, limit=n)],
    }
    fp_tasks = fingerprint(to_dict(eval_cfg), TOOLGYM_TASKS, BFCL_LIMITS)

    chat = out / "self_chat.jsonl"
    stages.run("self_chat", fingerprint(CHAT_ROWS), lambda: _self_chat(chat))

    results = {"base": stages.run(
        "eval_base", fp_tasks,
        lambda: evaluate_into(eval_cfg, eval_cfg.model.name_or_path, benches, out / "eval", "base",
                              workers=grid.eval_workers, batch_size=grid.eval_batch_size,
                              cache=cache_dir() / "ablate_eval" / fp_tasks))}
    for name in grid.rows:
        _, overrides = ROWS[name]
        overrides = [o.format(chat=chat) for o in overrides] + [f"trainer.output_dir={out / name}",
                                                                f"logging.run_name=ablate-{name}"]
        cfg = load_config(SFT_CONFIG, overrides, stage="sft")  # a bad row fails before any work
        fp_sft = fingerprint(to_dict(cfg))
        sft = stages.run(f"sft_{name}", fp_sft, lambda o=overrides: run_child("sft.py", SFT_CONFIG, o), workdir=out / name)
        row_eval = dataclasses.replace(eval_cfg, format=FormatConfig(**dataclasses.asdict(cfg.format)))
        results[name] = stages.run(
            f"eval_{name}", fingerprint(fp_tasks, fp_sft, to_dict(row_eval.format)),
            lambda s=sft, n=name, e=row_eval: evaluate_into(e, s["final"], benches, out / "eval", n,
                                                          workers=grid.eval_workers, batch_size=grid.eval_batch_size),
        )
    table = out / "table.md"
    table.write_text(render_table(results, {n: ROWS[n][0] for n in grid.rows}, stages.done))
    print(table.read_text(), flush=True)
    return table


def _self_chat(path: Path) -> dict[str, Any]:
    import subprocess

    cmd = [sys.executable, str(ROOT / "launch" / "data.py"), "self-chat", "--n", str(CHAT_ROWS), "--out", str(path)]
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise RuntimeError(f"stage failed: {' '.join(cmd)}")
    return {"path": str(path)}


# ---------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------

NON_LIVE = ["simple_python", "multiple", "parallel", "parallel_multiple"]
LIVE = ["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"]
# column -> (benchmark, metric, categories pooled); pooled per task, so the paired bootstrap is over tasks.
COLUMNS: dict[str, tuple[str, str, list[str] | None]] = {
    "BFCL non-live AST": ("bfcl", "valid", NON_LIVE),
    "BFCL live AST": ("bfcl", "valid", LIVE),
    "BFCL irrelevance": ("bfcl", "valid", ["irrelevance", "live_irrelevance"]),
    "BFCL relevance": ("bfcl", "valid", ["live_relevance"]),
    "toolgym reward": ("toolgym", "reward", None),
    "toolgym strict AST": ("toolgym", "ast_valid", None),
}


def _rows(result_paths: dict[str, str], bench: str, cats: list[str] | None) -> dict[str, dict[str, Any]]:
    per_task = json.loads(Path(result_paths[bench]).read_text())["per_task"]
    return {r["id"]: r for r in per_task if cats is None or r["category"] in cats}


def render_table(results: dict[str, dict[str, str]], notes: dict[str, str], stages: dict[str, Any]) -> str:
    """The recipe table: each cell the metric (%, or reward) and, for recipes, its paired-bootstrap CI95 of the
    difference to the baseline row; then toolgym strict AST per category."""
    from rl.eval.evaluate import paired_bootstrap

    names = list(results)
    lines = ["| recipe | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for name in names:
        cells = []
        for bench, metric, cats in COLUMNS.values():
            rows = _rows(results[name], bench, cats)
            scale = 1 if metric == "reward" else 100
            value = scale * sum(float(r[metric]) for r in rows.values()) / max(len(rows), 1)
            cell = f"{value:.3f}" if metric == "reward" else f"{value:.1f}"
            if name not in ("base", "baseline") and "baseline" in results:
                ref = _rows(results["baseline"], bench, cats)
                ids = sorted(set(ref) & set(rows))
                d, lo, hi = paired_bootstrap([float(ref[i][metric]) for i in ids], [float(rows[i][metric]) for i in ids])
                fmt = "{:+.3f}" if metric == "reward" else "{:+.1f}"
                cell += f" ({fmt.format(scale * d)} [{fmt.format(scale * lo)}, {fmt.format(scale * hi)}])"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    n = {col: len(_rows(results[names[0]], b, c)) for col, (b, _, c) in COLUMNS.items()}
    lines += ["", "Tasks per column: " + ", ".join(f"{col} {k}" for col, k in n.items()) + ". In brackets: the "
              "difference to `baseline` and its paired-bootstrap CI95 over the same tasks.", ""]
    lines += ["Recipes:", ""] + [f"- `{k}`: {v}" for k, v in notes.items()] + [""]
    cats = sorted({r["category"] for r in _rows(results[names[0]], "toolgym", None).values()})
    lines += ["toolgym strict AST % by category:", "", "| recipe | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for name in names:
        rows = list(_rows(results[name], "toolgym", None).values())
        by = {c: [r for r in rows if r["category"] == c] for c in cats}
        lines.append(f"| {name} | " + " | ".join(f"{100 * sum(r['ast_valid'] for r in by[c]) / len(by[c]):.0f}" for c in cats) + " |")
    secs = {k: v.get("seconds", 0) for k, v in stages.items()}
    lines += ["", "Stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in secs.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/ablate")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    ap.add_argument("--fresh", action="store_true", help="redo every row")
    args = ap.parse_args(argv)
    rows = tuple(r for r in args.rows.split(",") if r)
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        ap.error(f"unknown rows {unknown}; known: {', '.join(ROWS)}")
    if "baseline" not in rows:
        ap.error("the grid needs the baseline row (every CI is against it)")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    run_grid(Grid(out=Path(args.out), rows=("baseline", *[r for r in rows if r != "baseline"])), fresh=args.fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
