"""What every training entry point does first: its stage's config and its train tasks, or a clear exit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rl.config import ConfigError, Stage, load_config
from rl.data import SplitError, load_tasks


def config_and_train_tasks(path: str, overrides: list[str], stage: Stage) -> tuple[Any, list]:
    """The stage's config and the tasks it trains on.

    Raises:
        SystemExit(2): after printing the config or data error (file, line and key).
    """
    try:
        cfg = load_config(path, overrides, stage=stage)
        return cfg, load_tasks(cfg.data, "train")
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
    except SplitError as e:
        print(f"config error: {path}: {e}", file=sys.stderr)
    raise SystemExit(2)


def write_summary(summary: dict[str, Any], output_dir: str) -> None:
    """Prints the run's summary, and writes it to `<output_dir>/summary.json` for callers that run the entry
    point as a child process (launch/demo.py)."""
    print(json.dumps(summary, indent=2), flush=True)
    (Path(output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
