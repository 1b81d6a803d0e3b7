"""Starting or joining Ray."""

from __future__ import annotations

import os
from pathlib import Path

import ray

REPO_ROOT = Path(__file__).resolve().parents[1]

# glibc hands out blocks above its mmap threshold (32 MiB at most) as fresh mmap pages and unmaps them on
# free, so each micro-batch faults its big buffers in again. Replaying one demo GRPO step's micro-batches,
# kernel time fell from 14.2 of 67 CPU-seconds to 3.8 of 51 with these settings, and the replay ran 1.46x
# faster (30.4 s to 20.8 s). They keep freed memory in the heap, and one arena makes that hold in Ray
# Train's training thread too (other threads' arenas fall back to mmap). glibc reads them at process start,
# hence the workers' environment. (PyTorch's own largest CPU tensors still faulted in on every allocation in
# a check here; the gain comes from the rest.) The cost is resident memory: the demo learner held 14 GiB
# with them (6 GiB seen without).
CPU_MALLOC_ENV = {
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": str(16 << 30),
    "MALLOC_TOP_PAD_": str(1 << 30),
    "MALLOC_ARENA_MAX": "1",
}


def init_ray(cpus_needed: float = 0.0, use_gpu: bool = False) -> None:
    """Joins the cluster when there is one (RAY_ADDRESS, or inside `ray job submit`); else starts a local
    Ray bound to 127.0.0.1 with enough logical CPUs for the workers and learners.

    Args:
        cpus_needed: Logical CPUs the run's actors ask for (rollout workers + learners). Rollouts and updates
            alternate (synchronous GRPO), so they may exceed the cores.
        use_gpu: A GPU run; otherwise the local Ray's workers get the glibc allocator settings in
            `CPU_MALLOC_ENV`.
    """
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"])
        return
    ray.init(
        num_cpus=int(max(os.cpu_count() or 1, cpus_needed + 1)),
        # Ray Train's placement-group cleaner polls the state API, which the dashboard serves; without it the
        # console fills with "Failed to query Ray Train Controller actor state" every few seconds.
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        _node_ip_address="127.0.0.1",
        runtime_env={
            "env_vars": {
                "PYTHONPATH": str(REPO_ROOT),
                "TOKENIZERS_PARALLELISM": "false",
                **(CPU_MALLOC_ENV if not use_gpu else {}),
            }
        },
        log_to_driver=True,
    )
