"""Supervised warm-up: `python launch/sft.py --config configs/sft_X.yaml [key.path=value ...] [--resume]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rl.config import ConfigError, load_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in trainer.output_dir")
    ap.add_argument("overrides", nargs="*", help="key.path=value overrides")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    from rl.data import load_tasks
    from rl.sft import train_sft

    tasks = load_tasks(cfg.data, "train")
    print(f"[toolgym] SFT: {len(tasks)} source tasks -> {cfg.trainer.output_dir}", flush=True)
    summary = train_sft(cfg, tasks, resume=args.resume)
    print(json.dumps(summary, indent=2), flush=True)
    # Also on disk, for callers that run this script as a child process (launch/demo.py).
    (Path(cfg.trainer.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
