"""RL training, GRPO or PPO by `algorithm.name`: `python launch/train.py --config configs/X.yaml [key=value ...]
[--resume]` (`launch/grpo.py` is the same entry point, under the name the cluster docs use).

Locally it starts a Ray instance on 127.0.0.1; under `ray job submit` it joins the job's cluster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a Ray job's working dir copy

from launch.common import config_and_train_tasks, write_summary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True, help="YAML run config")
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in trainer.output_dir")
    ap.add_argument("overrides", nargs="*", help="key.path=value overrides")
    args = ap.parse_args(argv)
    cfg, tasks = config_and_train_tasks(args.config, args.overrides, stage="rl")
    from rl.ray_utils import init_ray
    from rl.train.run import train

    r, t = cfg.rollout, cfg.trainer
    init_ray(r.num_workers * r.cpus_per_worker + t.num_learners * t.cpus_per_learner, use_gpu=t.use_gpu)
    print(f"[toolgym] {cfg.algorithm.name.upper()}: {len(tasks)} train tasks, {r.num_workers} rollout workers, "
          f"{t.num_learners} learner(s), {t.max_steps} steps -> {t.output_dir}", flush=True)
    write_summary(train(cfg, tasks, resume=args.resume), t.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
