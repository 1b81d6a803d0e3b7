"""The main job on the embedded default: `make demo` (SmolLM2-135M-Instruct, local Ray, CPU).

SFT -> GRPO -> eval of base / SFT / GRPO (toolgym held-out + BFCL subset) -> export -> runs/demo/report.md.
A rerun reuses finished stages; --fresh redoes them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fresh", action="store_true", help="redo every stage")
    ap.add_argument("--out", default="runs/demo")
    args = ap.parse_args(argv)
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from rl.demo import DemoPlan, run_demo

    report = run_demo(DemoPlan(out=Path(args.out)), fresh=args.fresh)
    print(report.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
