"""RL training: `python launch/grpo.py --config configs/X.yaml [key.path=value ...] [--resume]`.

The documented entry point of `ray job submit ... -- python launch/grpo.py`; it is launch/train.py, which runs
GRPO or PPO as the config's `algorithm.name` says.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a Ray job's working dir copy

from launch.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
