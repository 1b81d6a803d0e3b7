"""GRPO on Ray: rollout workers play tool-use episodes, TRL's GRPOTrainer owns the loss, Ray Train runs the
learners (DeepSpeed ZeRO optional, gloo on CPU, NCCL on GPU).

    train(cfg, tasks)  ->  RolloutPool (N Ray actors)  +  TorchTrainer(num_learners) running `_learner_loop`

One optimizer step:
    1. GRPOTrainer asks `RolloutBridge.rollout_func` for completions of this process's prompts (task ids, each
       repeated num_generations times).
    2. The pool plays the episodes on the workers, seeded by (step, task id, sample index), and scores them.
    3. TRL turns the reward components (one TRL reward function each, weighted from config) into group-
       normalised advantages, and computes the loss on policy tokens only (env_mask), over length-grouped
       micro-batches without pad columns (`ToolGRPOTrainer`, rl/train/batching.py).
    4. After the optimizer step, the bridge sends the new LoRA (or full) weights to every worker, tagged with
       the new step: rollouts of step s always come from weights of version s (on-policy).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import ray
import torch
from trl import GRPOTrainer

from envs.types import Task
from rl.config import RLRunConfig, to_dict
from rl.train.batching import length_grouped_microbatches
from rl.train.bridge import RolloutBridge
from rl.train.metrics import refuse_stale_run

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------
# The trainer: TRL's GRPO loss over length-grouped, unpadded micro-batches
# ---------------------------------------------------------------------------------------------------


class ToolGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose training micro-batches are length-grouped and unpadded (see rl/train/batching.py)."""

    def _prepare_inputs(self, generation_batch: dict[str, Any]) -> dict[str, Any]:
        if not self.model.training:
            return super()._prepare_inputs(generation_batch)
        n = self.args.steps_per_generation
        if self.num_iterations != 1 or n != self.args.gradient_accumulation_steps:
            raise ValueError("ToolGRPOTrainer needs one generation per optimizer step (num_iterations=1, steps_per_generation=gradient_accumulation_steps)")
        if self._step % n == 0 or self._buffered_inputs is None:  # None after resuming from a checkpoint
            scored = self._generate_and_score_completions(generation_batch)
            self._buffered_inputs = length_grouped_microbatches(scored, n)
        return self._buffered_inputs[self._step % n]


def grpo_args(cfg: RLRunConfig, world_size: int, ds_config: dict | None, reward_weights: list[float]):
    """TRL GRPOConfig from our config (the DeepSpeed JSON is read by the driver: workers have another cwd)."""
    from trl import GRPOConfig

    a, tr = cfg.algorithm, cfg.trainer
    global_batch = a.prompts_per_step * a.num_generations
    return GRPOConfig(
        output_dir=tr.output_dir,
        max_steps=tr.max_steps,
        per_device_train_batch_size=global_batch // (world_size * tr.gradient_accumulation_steps),
        # TRL generates once per optimizer step (steps_per_generation = accumulation steps) and the weights
        # do not change within the step, so rollouts stay exactly on-policy.
        gradient_accumulation_steps=tr.gradient_accumulation_steps,
        num_generations=a.num_generations,
        learning_rate=a.learning_rate,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=a.warmup_steps,
        max_grad_norm=a.max_grad_norm,
        beta=a.beta,
        epsilon=a.epsilon,
        loss_type=a.loss_type,
        scale_rewards=a.scale_rewards,
        multi_objective_aggregation=a.multi_objective_aggregation,
        reward_weights=reward_weights,
        logging_steps=tr.logging_steps,
        save_strategy="steps",
        save_steps=tr.save_steps,
        save_total_limit=tr.save_total_limit,
        seed=tr.seed,
        data_seed=tr.seed,
        bf16=tr.bf16,
        # TRL's GRPOConfig turns activation checkpointing on by default; ours is off unless the config asks
        # (at this size on CPU memory is not short, and the recomputation cost 10-20% in standalone runs here).
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        use_cpu=not tr.use_gpu,
        deepspeed=ds_config,
        report_to=[],  # RunLogger does W&B, aligned with checkpoints
        remove_unused_columns=False,
        dataloader_num_workers=0,
        max_completion_length=cfg.rollout.max_total_tokens,
        disable_tqdm=False,
        log_completions=False,
        ddp_find_unused_parameters=False,  # every LoRA (or full) weight takes part; True costs a graph walk a step
    )


# ---------------------------------------------------------------------------------------------------
# The learner (one per Ray Train worker)
# ---------------------------------------------------------------------------------------------------


def _learner_loop(config: dict[str, Any]) -> None:
    from datasets import Dataset

    from rl.checkpoint import load_policy
    from rl.models import peft_lora_config

    cfg: RLRunConfig = config["cfg"]
    tasks: list[Task] = config["tasks"]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    torch.set_num_threads(max(1, config["torch_threads"]))

    model, tok = load_policy(cfg.model.name_or_path, dtype=cfg.model.dtype, decision_tokens=cfg.format.name == "decision",
                             allow_download=cfg.model.allow_download)
    if cfg.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    bridge = RolloutBridge(config["pool"], tasks, cfg)
    trainer = ToolGRPOTrainer(
        model=model,
        processing_class=tok,
        reward_funcs=bridge.reward_funcs,
        args=grpo_args(cfg, world, config["deepspeed"], bridge.reward_weights),
        train_dataset=Dataset.from_list([{"prompt": t.id} for t in tasks]),
        peft_config=peft_lora_config(cfg.model.lora, model) if cfg.model.lora else None,
        rollout_func=bridge.rollout_func,
    )
    for callback in bridge.callbacks(trainer):
        trainer.add_callback(callback)
    trainer.train(resume_from_checkpoint=config["resume_from"])
    if trainer.is_world_process_zero():
        save_final(trainer, tok, cfg)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def save_final(trainer: Any, tokenizer: Any, cfg: RLRunConfig) -> Path:
    """Saves `<output_dir>/final` as a toolgym checkpoint (rl/checkpoint.py): the adapter on the run's base
    model, or the full weights."""
    from rl.checkpoint import write_manifest

    out = Path(cfg.trainer.output_dir) / "final"
    trainer.save_model(str(out))  # gathers ZeRO-3 partitions
    tokenizer.save_pretrained(str(out))
    write_manifest(
        out, stage="grpo", step=trainer.state.global_step, weights="adapter" if cfg.model.lora else "full",
        base=cfg.model.name_or_path, tool_format=dataclasses.asdict(cfg.format), tokenizer=tokenizer, config=to_dict(cfg),
    )
    return out


# ---------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------


def train(cfg: RLRunConfig, tasks: list[Task], resume: bool = False) -> dict[str, Any]:
    """Runs GRPO: starts the rollout pool and the Ray Train learners; returns a summary.

    Args:
        cfg: The run config (not modified).
        tasks: Training tasks.
        resume: Continue from the latest checkpoint in `trainer.output_dir` (weights, optimizer, RNG, data
            position, W&B run id).
    """
    from ray.train import RunConfig as RayRunConfig
    from ray.train import ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from transformers.trainer_utils import get_last_checkpoint

    from rl.checkpoint import read_manifest
    from rl.models import absolute_spec
    from rl.rollout.pool import RolloutPool, RolloutSetup

    out = Path(cfg.trainer.output_dir).resolve()
    refuse_stale_run(out, resume)
    # Learners and rollout workers run in other directories: paths become absolute.
    cfg = dataclasses.replace(
        cfg,
        trainer=dataclasses.replace(cfg.trainer, output_dir=str(out)),
        model=dataclasses.replace(cfg.model, name_or_path=absolute_spec(cfg.model.name_or_path)),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "toolgym_config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    resume_from = get_last_checkpoint(str(out)) if resume and out.is_dir() else None
    if resume and resume_from is None:
        log.warning("--resume: no checkpoint in %s; starting from scratch", out)

    pool = RolloutPool.remote(RolloutSetup.of(cfg, lora=cfg.model.lora))
    ray.get(pool.ready.remote())
    threads = max(1, int((os.cpu_count() or 2) // cfg.trainer.num_learners))
    trainer = TorchTrainer(
        _learner_loop,
        train_loop_config={
            "cfg": cfg,
            "pool": pool,
            "tasks": tasks,
            "resume_from": resume_from,
            "torch_threads": threads,
            "deepspeed": json.loads(Path(cfg.trainer.deepspeed).read_text()) if cfg.trainer.deepspeed else None,
        },
        scaling_config=ScalingConfig(
            num_workers=cfg.trainer.num_learners,
            use_gpu=cfg.trainer.use_gpu,
            resources_per_worker={"CPU": cfg.trainer.cpus_per_learner, **({"GPU": 1} if cfg.trainer.use_gpu else {})},
        ),
        torch_config=TorchConfig(backend="nccl" if cfg.trainer.use_gpu else "gloo"),
        run_config=RayRunConfig(name="learners", storage_path=str(out / "ray_train")),
    )
    t = time.perf_counter()
    try:
        trainer.fit()
        final = out / "final"
        manifest = read_manifest(final)
        return {
            "output_dir": str(out),
            "final": str(final),
            "steps": manifest["step"] if manifest else None,
            "wall_s": time.perf_counter() - t,
            **ray.get(pool.stats.remote()),
        }
    finally:
        ray.kill(pool)  # its rollout workers share its fate: their CPUs and memory are freed
