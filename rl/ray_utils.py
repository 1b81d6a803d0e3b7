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


# Ray replaces a node address of 127.0.0.1 by the machine's own address ("remotely reachable"), even for a
# single-node local Ray, so its processes talked over the machine's network address. In its single-node mode
# (this setting; Ray's default on macOS and Windows) a node keeps the loopback address. Ray reads it at import
# time, so the driver's copy is set in place and the processes the local Ray starts get it from the environment.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def start_local_ray(**init_kwargs) -> None:
    """`ray.init` of a new local, single-node Ray bound to 127.0.0.1 (see LOOPBACK_ENV); never a cluster that a
    `ray start` left running on this machine."""
    from ray._private import ray_constants

    os.environ.update(LOOPBACK_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False
    ray.init(address="local", _node_ip_address="127.0.0.1", **init_kwargs)


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
    start_local_ray(
        num_cpus=int(max(os.cpu_count() or 1, cpus_needed + 1)),
        # Ray Train's placement-group cleaner polls the state API, which the dashboard serves; without it the
        # console fills with "Failed to query Ray Train Controller actor state" every few seconds.
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        runtime_env={
            "env_vars": {
                "PYTHONPATH": str(REPO_ROOT),
                "TOKENIZERS_PARALLELISM": "false",
                **LOOPBACK_ENV,
                **(CPU_MALLOC_ENV if not use_gpu else {}),
            }
        },
        log_to_driver=True,
    )
