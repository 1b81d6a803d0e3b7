"""RolloutWorker set-up (the pool itself runs in tests/rl/train/test_grpo.py, under Ray)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# A fresh interpreter: deterministic mode is process-wide and would leak into the other tests.
PROBE = """
import json, os, sys, torch
from rl.config import load_config
from rl.rollout.pool import RolloutWorker
from rl.rollout.setup import RolloutSetup
cfg = load_config(None, ["model.name_or_path=tiny-random", "rollout.deterministic=" + sys.argv[1]])
worker = RolloutWorker(RolloutSetup.of(cfg), 0)
print(json.dumps([torch.are_deterministic_algorithms_enabled(), os.environ.get("CUBLAS_WORKSPACE_CONFIG")]))
"""


@pytest.mark.parametrize("on", [True, False])
def test_a_worker_turns_on_deterministic_kernels_when_asked(on):
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"} | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(on).lower()], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    enabled, workspace = json.loads(out.stdout.strip().splitlines()[-1])
    assert enabled is on
    assert (workspace == ":4096:8") is on
