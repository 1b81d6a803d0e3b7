"""Export a checkpoint for sharing: `python launch/export.py --checkpoint DIR --out DIR
[--results results.json ...] [--push-to-hub OWNER/NAME [--private]]`.

Merges LoRA, saves safetensors + tokenizer + generation config, writes a model card. Pushing needs HF_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--results", nargs="*", default=[], help="launch/eval.py result JSONs for the model card")
    ap.add_argument("--push-to-hub", metavar="OWNER/NAME")
    ap.add_argument("--private", action="store_true")
    args = ap.parse_args(argv)
    from rl.eval.export import ExportError, export

    try:
        summary = export(args.checkpoint, args.out, results=args.results, push_to_hub=args.push_to_hub, private=args.private)
    except ExportError as e:
        print(f"export error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
