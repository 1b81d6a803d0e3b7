"""Task data: generate JSONL task files, validate them, and make instruction-following rows.

    python launch/data.py generate --n 2000 --split train --seed 0 --out data/train.jsonl
    python launch/data.py validate data/train.jsonl      # exits 1 and lists line numbers on rejects
    python launch/data.py self-chat --model smollm2-135m --n 200 --out data/chat.jsonl   # sft.chat_mix_path
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tqdm import tqdm  # noqa: E402

from envs.types import CATEGORIES  # noqa: E402

PROGRESS_FROM = 1000  # show a progress bar from this many tasks on


def _csv(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def generate(args: argparse.Namespace) -> int:
    from envs.tasks import iter_generate

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        stream = iter_generate(args.n, args.split, args.seed, _csv(args.categories), _csv(args.domains))
        with out.open("w", encoding="utf-8") as f:
            for task in tqdm(stream, total=args.n, desc="generate", unit="task", disable=args.n < PROGRESS_FROM):
                f.write(task.to_json() + "\n")
    except ValueError as e:  # bad split/category/domain names
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.n} {args.split} tasks (seed {args.seed}) to {out}")
    return 0


def validate(args: argparse.Namespace) -> int:
    from envs.validate import validate_lines

    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    with path.open(encoding="utf-8") as f:
        lines = f.readlines()
    n, rejected, reported = 0, set(), 0
    bar = tqdm(validate_lines(lines), total=len(lines), desc="validate", unit="line", disable=len(lines) < PROGRESS_FROM)
    for lineno, task, reasons in bar:
        n += 1
        for reason in reasons:
            rejected.add(lineno)
            if reported < args.max_report:
                tqdm.write(f"{path}:{lineno}" + (f" [{task.id}]" if task else "") + f": {reason}")
                reported += 1
    if rejected:
        first = sorted(rejected)[:20]
        print(f"REJECTED {len(rejected)} of {n} tasks (lines {', '.join(map(str, first))}"
              f"{', ...' if len(rejected) > len(first) else ''})")
        return 1
    print(f"OK: all {n} tasks valid")
    return 0


def self_chat(args: argparse.Namespace) -> int:
    """Chat rows from the model's own replies to train-split user requests (rl.train.sft_data.self_chat_rows)."""
    import json

    from envs.tasks import generate as generate_tasks
    from rl.train.sft_data import self_chat_rows

    tasks = generate_tasks(args.n, "train", seed=args.seed)
    rows = self_chat_rows(args.model, [t.turns[0][0]["content"] for t in tasks], max_new_tokens=args.max_new_tokens)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"wrote {len(rows)} chat rows ({args.model}'s own replies to {args.n} train requests) to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write generated tasks to a JSONL file")
    g.add_argument("--n", type=int, required=True, help="number of tasks")
    g.add_argument("--split", choices=["train", "test"], required=True)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", required=True, help="output .jsonl path")
    g.add_argument("--categories", help=f"comma-separated subset of {','.join(CATEGORIES)}")
    g.add_argument("--domains", help="comma-separated subset of the split's domains")
    g.set_defaults(fn=generate)
    v = sub.add_parser("validate", help="check every task of a JSONL file; exit 1 on any reject")
    v.add_argument("file")
    v.add_argument("--max-report", type=int, default=100, help="print at most this many reasons")
    v.set_defaults(fn=validate)
    c = sub.add_parser("self-chat", help="chat rows: the model's own replies to train-split requests, no tools")
    c.add_argument("--model", default="smollm2-135m", help="alias, checkpoint or hub id")
    c.add_argument("--n", type=int, default=200, help="number of requests")
    c.add_argument("--seed", type=int, default=1000, help="generator seed of the requests")
    c.add_argument("--max-new-tokens", type=int, default=96)
    c.add_argument("--out", required=True, help="output .jsonl path")
    c.set_defaults(fn=self_chat)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
