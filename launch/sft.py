"""Supervised warm-up: `python launch/sft.py --config configs/sft_X.yaml [key.path=value ...] [--resume]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from launch.common import config_and_train_tasks, write_summary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in trainer.output_dir")
    ap.add_argument("overrides", nargs="*", help="key.path=value overrides")
    args = ap.parse_args(argv)
    cfg, tasks = config_and_train_tasks(args.config, args.overrides, stage="sft")
    from rl.train.sft import train_sft

    print(f"[toolgym] SFT: {len(tasks)} source tasks -> {cfg.trainer.output_dir}", flush=True)
    write_summary(train_sft(cfg, tasks, resume=args.resume), cfg.trainer.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
