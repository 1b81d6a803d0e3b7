"""The demo report: results of base / SFT / the RL policy, paired-bootstrap deltas, reward curve, accuracy chart."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rl.eval import evaluate as ev


def reward_curve(metrics_jsonl: Path, path: Path, algorithm: str = "GRPO") -> Path | None:
    """Training reward per rollout step (total and each component), from the run's metrics.jsonl."""
    if not metrics_jsonl.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_jsonl.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "reward" in r]
    if not rows:
        return None
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [r["reward"] for r in rows], marker="o", label="total (weighted)")
    for key in sorted(k for k in rows[0] if k.startswith("rewards/") and k.endswith("/mean")):
        ax.plot(steps, [r.get(key, math.nan) for r in rows], linestyle="--", label=key.split("/")[1])
    ax.set_xlabel(f"{algorithm} optimizer step")
    ax.set_ylabel("mean reward of the step's rollouts")
    ax.set_title(f"{algorithm} training reward")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def mmss(seconds: float) -> str:
    """Seconds as `12m05s`."""
    s = int(seconds)
    return f"{s // 60}m{s % 60:02d}s"


def _ci(d: dict[str, Any], scale: float) -> str:
    return f"{scale * d['delta']:+.3f} [{scale * d['ci95'][0]:+.3f}, {scale * d['ci95'][1]:+.3f}]"


def _counts(result: dict) -> str:
    return ", ".join(f"{c} {r['n']}" for c, r in result["categories"].items() if r["n"])


def write_report(out: Path, results: dict[str, dict[str, str]], *, sft: dict, rl: dict, rl_label: str, export: dict,
                 elapsed: str, stages: dict, reused: list[str] | None = None) -> Path:
    """Writes `<out>/report.md` (and its PNGs) from the eval result files of each model."""
    loaded = {m: {b: json.loads(Path(p).read_text()) for b, p in r.items()} for m, r in results.items()}
    models = list(loaded)
    tg = {m: loaded[m]["toolgym"] for m in models}
    bf = {m: loaded[m]["bfcl"] for m in models}

    if reused:  # a rerun's wall time leaves out the reused stages: give their recorded times too
        total = sum(v.get("seconds", 0) for v in stages.values())
        took = (f"this run took {elapsed} and reused finished stages ({', '.join(reused)}); every stage's own "
                f"time adds up to {mmss(total)} (see Stage timings)")
    else:
        took = f"end to end in {elapsed}"
    lines = ["# toolgym demo report", "", f"SmolLM2-135M-Instruct on the CPU, {took}.", ""]
    lines += ["## Results", "", f"toolgym held-out tasks (`test` split: unseen phrasings, entities and domains), n = {tg[models[0]]['overall']['n']}; "
              f"BFCL v4 subset, n = {bf[models[0]]['overall']['n']} ({_counts(bf[models[0]])}). Greedy decoding. "
              "BFCL overall: BFCL's summaries and weights over the groups that ran.", ""]
    lines += ["| model | toolgym reward | toolgym strict AST % | toolgym execution % | BFCL overall % | BFCL non-live AST % (Python) | BFCL irrelevance % |",
              "|---|---|---|---|---|---|---|"]
    for m in models:
        o, b = tg[m]["overall"], bf[m]
        s = b.get("partial", {})  # the demo runs a subset of BFCL: its summaries over the categories that ran
        lines.append(f"| {m} | {o['reward']:.3f} | {ev.pct(o['ast_valid'])} | {ev.pct(o['exec_valid'])} | {ev.pct(s.get('overall'))} | "
                     f"{ev.pct(s.get('non_live'))} | {ev.pct(s.get('irrelevance'))} |")

    lines += ["", "### Paired differences (bootstrap 95% CI over the same tasks)", ""]
    for a, b in (("sft", rl_label), ("base", "sft"), ("base", rl_label)):
        if a in tg and b in tg:
            cmp = ev.compare(tg[a], tg[b])
            d = cmp["deltas"]["overall"]
            verdict = "above 0" if d["reward"]["ci95"][0] > 0 else ("below 0" if d["reward"]["ci95"][1] < 0 else "includes 0")
            lines.append(f"- **{b} − {a}** on {cmp['n_common']} toolgym tasks: reward {_ci(d['reward'], 1)} (CI {verdict}); "
                         f"strict AST {_ci(d['ast_valid'], 100)} points; execution {_ci(d['exec_valid'], 100)} points.")
    lines += ["", "### toolgym by category", ""]
    cats = sorted({c for m in models for c in tg[m]["categories"]})
    lines += ["| category | n | " + " | ".join(f"{m} AST % / reward" for m in models) + " |", "|---|---|" + "---|" * len(models)]
    for c in cats:
        n = tg[models[0]]["categories"].get(c, {}).get("n", 0)
        cells = [f"{ev.pct(tg[m]['categories'][c]['ast_valid'])} / {tg[m]['categories'][c]['reward']:.2f}" for m in models]
        lines.append(f"| {c} | {n} | " + " | ".join(cells) + " |")
    if "sft" in tg and rl_label in tg:
        lines += ["", f"{rl_label.upper()} − SFT by category (reward, paired bootstrap 95% CI):", ""]
        cmp = ev.compare(tg["sft"], tg[rl_label])
        lines += [f"- {c}: {_ci(d['reward'], 1)}" for c, d in cmp["deltas"].items() if c != "overall"]

    curve = reward_curve(Path(rl["output_dir"]) / "metrics.jsonl", out / "reward_curve.png", rl_label.upper())
    ev.chart([tg[m] for m in models], out / "accuracy_toolgym.png", metric="ast_valid")
    ev.chart([bf[m] for m in models], out / "accuracy_bfcl.png", metric="valid")
    lines += ["", "## Charts", ""]
    if curve:
        lines.append(f"![{rl_label.upper()} training reward](reward_curve.png)")
    lines += ["![toolgym accuracy](accuracy_toolgym.png)", "![BFCL accuracy](accuracy_bfcl.png)", ""]

    wandb_runs = sorted(str(p) for p in out.glob("*/wandb/offline-run-*"))
    lines += ["## Where things are", "",
              f"- SFT checkpoint: `{sft['final']}` ({sft.get('data_report', '')})",
              f"- {rl_label.upper()} checkpoint: `{rl['final']}` ({rl.get('steps')} steps, {rl.get('wall_s', 0):.0f} s)",
              f"- Exported model (merged, with model card): `{export['out']}`",
              "- W&B offline runs (upload with `wandb sync <dir>`):"] + [f"  - `{w}`" for w in wandb_runs]
    lines += ["- Eval results (JSON + Markdown + PNG): " + ", ".join(f"`{p}`" for r in results.values() for p in r.values())]
    lines += ["", "## Stage timings", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v.get('seconds', 0):.0f} |" for k, v in stages.items()]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
