"""GRPO training: `python launch/grpo.py --config configs/X.yaml [key.path=value ...] [--resume]`.

Locally it starts a Ray instance on 127.0.0.1; under `ray job submit` it joins the job's cluster.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a Ray job's working dir copy

from rl.config import ConfigError, load_config  # noqa: E402
from rl.ray_utils import init_ray  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True, help="YAML run config")
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in trainer.output_dir")
    ap.add_argument("overrides", nargs="*", help="key.path=value overrides")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2

    from rl.data import load_tasks
    from rl.grpo import train

    init_ray(cfg)
    tasks = load_tasks(cfg.data, "train")
    print(f"[toolgym] GRPO: {len(tasks)} train tasks, {cfg.rollout.num_workers} rollout workers, "
          f"{cfg.trainer.num_learners} learner(s), {cfg.trainer.max_steps} steps -> {cfg.trainer.output_dir}", flush=True)
    summary = train(cfg, tasks, resume=args.resume)
    print(json.dumps(summary, indent=2), flush=True)
    # Also on disk, for callers that run this script as a child process (launch/demo.py).
    (Path(cfg.trainer.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
