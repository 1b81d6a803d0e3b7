"""What a learner process sets before DeepSpeed starts: used by the Ray Train learners (rl/train/run.py) and by
the GPU benchmark's learner (launch/benchmarks/gpu.py), which runs outside Ray."""

from __future__ import annotations


def skip_inference_allreduce_op() -> None:
    """Keeps DeepSpeed from JIT-compiling its shared-memory all-reduce op when it starts its communication
    backend. The op serves only `inference_all_reduce`, which training never calls (ZeRO reduces through
    torch.distributed), and compiling it takes a minute on 2 cores in every new environment. DeepSpeed keeps
    its op compatibility table as one module-level dict that is meant to be edited (deepspeed/ops/__init__.py)."""
    import deepspeed.ops

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
