"""Evaluate a model on BFCL v4 or toolgym's held-out tasks, or compare two result files.

    python launch/eval.py --model SPEC --benchmark {bfcl,toolgym} [--tools {golden,open}] [--categories ...] [--limit N] --out results.json
    python launch/eval.py --compare a.json b.json

SPEC is an alias (smollm2-135m, tiny-random), a checkpoint directory, or a hub id. Decoding is greedy with the
training engine and format (from --config, default configs/eval.yaml). Writes JSON, a Markdown table and a PNG.
Finished tasks go to OUT's .tasks.jsonl as they finish: killed and rerun with the same settings, the evaluation
resumes from them and says so (--fresh starts over).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rl.config import ConfigError, load_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="alias, checkpoint directory or hub id")
    ap.add_argument("--benchmark", choices=["bfcl", "toolgym"], default="toolgym")
    ap.add_argument("--categories", nargs="*", help="subset of categories (default: all)")
    ap.add_argument("--limit", type=int, help="bfcl: tasks per category; toolgym: number of held-out tasks")
    ap.add_argument("--out", default="results.json")
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "eval.yaml"))
    ap.add_argument("--workers", type=int, default=0, help="Ray rollout workers (0: in this process)")
    ap.add_argument("--batch-size", type=int, default=50, help="tasks per lockstep batch (per worker)")
    ap.add_argument("--tools", choices=["golden", "open"],
                    help="golden: the prompt lists the task's tools; open: only search_tools over the tool pool "
                         "(default: the config's data.tools)")
    ap.add_argument("--fresh", action="store_true", help="ignore the finished tasks of an earlier run of this --out")
    ap.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="print per-category deltas B - A")
    ap.add_argument("overrides", nargs="*", help="key.path=value config overrides")
    args = ap.parse_args(argv)

    from rl.eval import evaluate as ev

    if args.compare:
        a, b = (json.loads(Path(p).read_text()) for p in args.compare)
        if a["benchmark"] != b["benchmark"]:
            print(f"cannot compare a {a['benchmark']} result with a {b['benchmark']} result", file=sys.stderr)
            return 2
        cmp = ev.compare(a, b)
        print(ev.compare_markdown(cmp))
        return 0
    if not args.model:
        ap.error("--model is required (or use --compare)")
    try:
        cfg = load_config(args.config, args.overrides, stage="eval")
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    from rl.models import ModelLoadError, check_spec

    try:  # before any worker starts: a worker that cannot load the model only dies and is retried
        check_spec(args.model, cfg.model.allow_download)
    except ModelLoadError as e:
        print(f"--model: {e}", file=sys.stderr)
        return 2
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name_or_path=args.model))
    tasks = load_benchmark(cfg, args.benchmark, args.categories, args.limit)
    if (args.tools or cfg.data.tools) == "open":
        from envs.open_world import open_task

        tasks = [open_task(t) for t in tasks]
    if args.workers:
        from rl.ray_utils import init_ray

        init_ray(args.workers * cfg.rollout.cpus_per_worker)
    journal = Path(args.out).with_suffix(".tasks.jsonl")
    if args.fresh:
        journal.unlink(missing_ok=True)
    results = ev.evaluate(cfg, args.benchmark, tasks, workers=args.workers, batch_size=args.batch_size,
                          progress=args.benchmark, journal=journal)
    paths = ev.write_outputs(results, args.out)
    print(ev.markdown(results))
    print(json.dumps(paths))
    return 0


def load_benchmark(cfg, benchmark: str, categories: list[str] | None, limit: int | None):
    """The test tasks of a benchmark: BFCL v4 categories (`limit` per category), or toolgym's held-out split."""
    from rl.data import load_tasks

    if benchmark == "bfcl":
        from rl.eval.bfcl_score import ALL_CATEGORIES, NOT_RUN
        from rl.eval.evaluate import BFCL_CATEGORIES

        unknown = sorted(set(categories or []) - set(ALL_CATEGORIES))
        if unknown:
            raise SystemExit(f"unknown BFCL categories {unknown}; BFCL v4 has: {', '.join(ALL_CATEGORIES)}")
        cannot = [f"{c} ({NOT_RUN[c]})" for c in categories or [] if c in NOT_RUN]
        if cannot:
            raise SystemExit(f"these BFCL categories cannot run here: {'; '.join(cannot)}")
        cats = categories or BFCL_CATEGORIES
        if limit is None:
            from envs import bfcl

            return [t for c in cats for t in bfcl.load(c)]  # every task of each category
        data = dataclasses.replace(cfg.data, source="bfcl", bfcl_categories=list(cats))
        return load_tasks(data, "test", n=limit * len(cats))
    data = dataclasses.replace(cfg.data, categories=categories or cfg.data.categories)
    return load_tasks(data, "test", n=limit or 200)


if __name__ == "__main__":
    sys.exit(main())
