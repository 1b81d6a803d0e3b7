"""Memory benchmark (`python launch/bench.py memory`): what fresh memory costs on this machine, against compute.

On a virtual machine whose host backs guest memory lazily and takes freed pages back (virtio-balloon free page
reporting), the first write to each page of a process's new memory is a host fault. On the 2-core machine the
demos run on it cost about 8 s per GiB, against about 0.5 s once the pages are backed (README, Results: Fresh
memory), so a process that touches 12 GiB pays over a minute before its first result. No profile of our code
shows that time, and it can differ from one day or host to the next while the matmul peak does not.

Two parts, each in a fresh child process, so neither inherits pages that this process already touched:

- `touch`: maps `GIB` GiB of anonymous memory and writes one byte per 4 KiB page (`first_touch_s_per_gib`),
  unmaps it and does it again (`retouch_s_per_gib`), then divides by the matmul probe of the same run:
  `first_touch_gib_in_gflop` is the GFLOP the machine computes in the time one GiB faults in.
- `train_step`: a demo-shaped SFT micro-batch (SmolLM2-135M, LoRA r=16 on every linear layer, 8 rows of 400
  tokens) forward and backward 3 times with `rl.ray_utils.CPU_MALLOC_ENV`, as the demo's learners run: each
  iteration's wall time, minor page faults, kernel and user CPU seconds, and peak resident memory. The first
  iteration faults its activations in; later ones reuse the heap (`first_over_steady`).
"""

from __future__ import annotations

import json
import mmap
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GIB = 2
PAGE = 4096


def _usage() -> tuple[int, float, float]:
    """(minor faults, kernel CPU s, user CPU s) of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt, r.ru_stime, r.ru_utime


def _touch_part(gib: float = GIB) -> dict:
    """Seconds per GiB to fault in `gib` GiB of new pages, the first time and again after unmapping them."""
    import numpy as np

    n = int(gib * (1 << 30)) // PAGE * PAGE
    out = {}
    for name in ("first_touch", "retouch"):
        m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        pages = np.frombuffer(m, dtype=np.uint8)
        f0, s0, _ = _usage()
        t = time.perf_counter()
        pages[::PAGE] = 1
        wall = time.perf_counter() - t
        f1, s1, _ = _usage()
        out[f"{name}_s_per_gib"] = wall / gib
        out[f"{name}_faults"] = f1 - f0
        out[f"{name}_kernel_s"] = s1 - s0
        del pages
        m.close()
    return out


def _train_step_part(rows: int = 8, tokens: int = 400, iterations: int = 3) -> dict:
    """Wall time, faults and CPU time of each of `iterations` forward+backward passes over one batch."""
    import torch
    from peft import get_peft_model

    from rl.checkpoint import load_policy
    from rl.config.sections import LoraConfig
    from rl.models import peft_lora_config

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    model, _ = load_policy("smollm2-135m")
    model = get_peft_model(model, peft_lora_config(LoraConfig(r=16, alpha=32), model))
    ids = torch.randint(10, 40000, (rows, tokens))  # [B, T]
    steps = []
    for _ in range(iterations):
        f0, s0, u0 = _usage()
        t = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        wall = time.perf_counter() - t
        f1, s1, u1 = _usage()
        steps.append({"wall_s": wall, "faults": f1 - f0, "kernel_s": s1 - s0, "user_s": u1 - u0})
    return {
        "shape": f"{rows} x {tokens} tokens, LoRA r=16 on every linear layer, {torch.get_num_threads()} threads",
        "iterations": steps,
        "first_over_steady": steps[0]["wall_s"] / steps[-1]["wall_s"],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def _in_child(part: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Runs one part in a fresh Python process and returns its JSON."""
    proc = subprocess.run(
        [sys.executable, "-m", "launch.benchmarks.memory", part, *args], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory benchmark part {part!r} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run() -> dict:
    """Both parts and the same run's matmul peak (see the module docstring)."""
    from launch.benchmarks.rollout import matmul_peak_gflops
    from rl.ray_utils import CPU_MALLOC_ENV

    gflops = matmul_peak_gflops(threads=os.cpu_count() or 1)
    touch = _in_child("touch")
    step = _in_child("train_step", env=CPU_MALLOC_ENV)
    return {
        "matmul_gflops": gflops,
        "gib": GIB,
        **touch,
        "first_touch_over_retouch": touch["first_touch_s_per_gib"] / touch["retouch_s_per_gib"],
        "first_touch_gib_in_gflop": touch["first_touch_s_per_gib"] * gflops,
        "train_step": step,
    }


if __name__ == "__main__":
    part = sys.argv[1]
    args = [float(a) if part == "touch" else int(a) for a in sys.argv[2:]]
    print(json.dumps({"touch": _touch_part, "train_step": _train_step_part}[part](*args)))
