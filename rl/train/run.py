"""Starting an RL run: the rollout pool and the Ray Train learners, for either algorithm (algorithm.name).

    train(cfg, tasks)  ->  RolloutPool (N Ray actors)  +  TorchTrainer(num_learners) running `_learner_loop`

Each learner builds its algorithm's trainer (rl/train/grpo.py or rl/train/ppo.py), trains, and rank 0 saves the
final checkpoint (rl/checkpoint.py).
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

from envs.types import Task
from rl.config import RLRunConfig, to_dict
from rl.train.metrics import refuse_stale_run

log = logging.getLogger(__name__)


def trainer_kwargs(cfg: RLRunConfig, ds_config: dict | None) -> dict[str, Any]:
    """The HF `TrainingArguments` both algorithms' trainers take the same way from the config.

    The DeepSpeed JSON is read by the driver and passed in: the learners run in another directory.
    """
    a, tr = cfg.algorithm, cfg.trainer
    return dict(
        output_dir=tr.output_dir,
        max_steps=tr.max_steps,
        gradient_accumulation_steps=tr.gradient_accumulation_steps,
        learning_rate=a.learning_rate,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=a.warmup_steps,
        max_grad_norm=a.max_grad_norm,
        logging_steps=tr.logging_steps,
        save_strategy="steps",
        save_steps=tr.save_steps,
        save_total_limit=tr.save_total_limit,
        seed=tr.seed,
        data_seed=tr.seed,
        bf16=tr.bf16,
        use_cpu=not tr.use_gpu,
        deepspeed=ds_config,
        report_to=[],  # RunLogger does W&B, aligned with checkpoints
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
        ddp_find_unused_parameters=False,  # every LoRA (or full) weight takes part; True costs a graph walk a step
    )


def _learner_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: build the algorithm's trainer, train (or resume), save the final checkpoint."""
    from rl.train import grpo, ppo
    from rl.train.deepspeed_setup import skip_inference_allreduce_op
    from rl.train.lm_head import labelled_positions_only

    cfg: RLRunConfig = config["cfg"]
    torch.set_num_threads(max(1, config["torch_threads"]))
    if config["deepspeed"]:
        skip_inference_allreduce_op()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    build = {"grpo": grpo.build_learner, "ppo": ppo.build_learner}[cfg.algorithm.name]
    trainer = build(cfg, config["pool"], config["tasks"], world, config["deepspeed"], config["eval_tasks"])
    with labelled_positions_only():
        trainer.train(resume_from_checkpoint=config["resume_from"])
    if trainer.is_world_process_zero():
        save_final(trainer, trainer.processing_class, cfg)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def save_final(trainer: Any, tokenizer: Any, cfg: RLRunConfig) -> Path:
    """Saves `<output_dir>/final` as a toolgym checkpoint (rl/checkpoint.py): the policy's adapter on the run's
    base model, or the full weights (PPO also keeps its critic under `critic/`)."""
    from rl.checkpoint import write_manifest

    out = Path(cfg.trainer.output_dir) / "final"
    trainer.save_model(str(out))  # gathers ZeRO-3 partitions
    tokenizer.save_pretrained(str(out))
    write_manifest(
        out, stage=cfg.algorithm.name, step=trainer.state.global_step, weights="adapter" if cfg.model.lora else "full",
        base=cfg.model.name_or_path, tool_format=dataclasses.asdict(cfg.format), tokenizer=tokenizer, config=to_dict(cfg),
    )
    return out


def train(cfg: RLRunConfig, tasks: list[Task], resume: bool = False) -> dict[str, Any]:
    """Runs RL (GRPO or PPO): starts the rollout pool and the Ray Train learners; returns a summary.

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
    from rl.data import load_eval_tasks, paired_order, stratified_order
    from rl.models import absolute_spec
    from rl.rollout.pool import RolloutPool
    from rl.rollout.setup import RolloutSetup

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

    if cfg.algorithm.task_order == "stratified":  # the learners take tasks in this order (rl/train/grpo.py, ppo.py)
        tasks = stratified_order(tasks, cfg.trainer.seed)
    elif cfg.algorithm.task_order == "paired":
        tasks = paired_order(tasks, cfg.trainer.seed)
    # The workers load their model while the learners start: a call to the pool waits for the workers it
    # needs, so nothing waits on `ready` here, and a worker that cannot start fails the learner's first rollout.
    pool = RolloutPool.remote(RolloutSetup.of(cfg, lora=cfg.model.lora))
    threads = cfg.trainer.torch_threads or max(1, int((os.cpu_count() or 2) // cfg.trainer.num_learners))
    trainer = TorchTrainer(
        _learner_loop,
        train_loop_config={
            "cfg": cfg,
            "pool": pool,
            "tasks": tasks,
            "eval_tasks": load_eval_tasks(cfg.data, cfg.eval.tasks, cfg.eval.n) if cfg.eval.every_n_steps else {},
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
            "algorithm": cfg.algorithm.name,
            "output_dir": str(out),
            "final": str(final),
            "steps": manifest["step"] if manifest else None,
            "wall_s": time.perf_counter() - t,
            **ray.get(pool.stats.remote()),
            **_best_checkpoint(out, cfg),
        }
    finally:
        ray.kill(pool)  # its rollout workers share its fate: their CPUs and memory are freed


def _best_checkpoint(out: Path, cfg: RLRunConfig) -> dict[str, Any]:
    """The step that evaluated best during training, as the trainer state of the last checkpoint records it."""
    from transformers.trainer_utils import get_last_checkpoint

    if not cfg.eval.every_n_steps:
        return {}
    last = get_last_checkpoint(str(out))
    state = json.loads((Path(last) / "trainer_state.json").read_text()) if last else {}
    return {"best_checkpoint": state.get("best_model_checkpoint"), "best_metric": {cfg.eval.metric: state.get("best_metric")}}
