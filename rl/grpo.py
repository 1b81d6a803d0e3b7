"""GRPO on Ray: rollout workers play tool-use episodes, TRL's GRPOTrainer owns the loss, Ray Train runs the
learners (DeepSpeed ZeRO optional, gloo on CPU, NCCL on GPU).

    train(cfg)  ->  RolloutPool (N Ray actors)  +  TorchTrainer(num_learners) running `_learner_loop`

One optimizer step:
    1. GRPOTrainer asks `rollout_func` for completions of this process's prompts (task ids, each repeated
       num_generations times).
    2. The pool plays the episodes on the workers, seeded by (step, task id, sample index), and scores them.
    3. TRL turns the reward components (one TRL reward function each, weighted from config) into group-
       normalised advantages, and computes the loss on policy tokens only (env_mask), over length-grouped
       micro-batches without pad columns (rl/trainer.py).
    4. After the optimizer step, `WeightSync` sends the new LoRA (or full) weights to every worker, tagged
       with the new step: rollouts of step s always come from weights of version s (on-policy).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import ray
import torch
from transformers import TrainerCallback

from envs.types import Task
from rl.callbacks import RunLogger, StepTimer, TimingCallback, refuse_stale_run
from rl.config import RunConfig, to_dict
from rl.episodes import Trajectory, episode_seed

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------
# Rollouts -> TRL
# ---------------------------------------------------------------------------------------------------


class ComponentReward:
    """A TRL reward function that reads one precomputed component (so TRL logs `rewards/<name>/mean`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = name  # TRL names reward functions by __name__

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        return list(kwargs[f"reward_{self.name}"])


def make_rollout_func(pool: Any, tasks_by_id: dict[str, Task], cfg: RunConfig, timer: StepTimer, recent: list):
    """The `rollout_func` for GRPOTrainer: prompts are task ids, repeated num_generations times."""
    G = cfg.algorithm.num_generations
    components = list(cfg.rewards.components)

    def rollout_func(prompts: list[str], trainer: Any) -> dict[str, list]:
        step = trainer.state.global_step
        rank = trainer.accelerator.process_index
        # TRL hands each process a contiguous slice of the global batch, whose groups of G are contiguous:
        # the global position gives the sample index, independent of how many learners share the batch.
        offset = rank * len(prompts)
        requests = []
        for i, task_id in enumerate(prompts):
            k = (offset + i) % G
            seed = episode_seed(step, task_id, k, cfg.trainer.seed)
            requests.append({"task": tasks_by_id[task_id], "seed": seed, "sample_index": k})
        t = time.perf_counter()
        trajs, stats = ray.get(pool.rollout.remote(requests))
        timer.add(rollout_s=time.perf_counter() - t, generate_s=stats["generate_s"], env_s=stats["env_s"], reward_s=stats["reward_s"])
        timer.counters["rollout/lost_batches"] = stats["lost_batches"]
        stale = sorted({tr.version for tr in trajs} - {step})
        if stale:
            raise RuntimeError(f"off-policy rollouts: worker weight versions {stale} at trainer step {step}")
        recent[:] = trajs
        out: dict[str, list] = {
            "prompt_ids": [tr.prompt_ids for tr in trajs],
            "completion_ids": [tr.completion_ids for tr in trajs],
            "logprobs": [tr.logprobs for tr in trajs],
            "env_mask": [tr.env_mask for tr in trajs],
            "weight_version": [tr.version for tr in trajs],
        }
        for c in components:
            out[f"reward_{c}"] = [tr.rewards[c] for tr in trajs]
        return out

    return rollout_func


class WeightSync(TrainerCallback):
    """Sends the policy's trainable weights to every rollout worker after each optimizer step.

    LoRA runs send the adapter only; full fine-tuning sends every weight. Under ZeRO-3 the parameters are
    partitioned, so every rank joins the gather and rank 0 sends. All ranks wait at a barrier, so no rank
    starts the next rollout before the workers hold the new version.
    """

    def __init__(self, pool: Any, lora: bool, timer: StepTimer) -> None:
        self.pool = pool
        self.lora = lora
        self.timer = timer
        self.trainer = None  # set by the learner loop once the trainer exists

    def on_train_begin(self, args, state, control, **kw):
        self._sync(state)  # a resumed run's workers must start from the checkpoint's weights

    def on_step_end(self, args, state, control, **kw):
        t = time.perf_counter()
        self._sync(state)
        self.timer.add(sync_s=time.perf_counter() - t)

    def _sync(self, state) -> None:
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        with _gathered(self.trainer, model):
            if state.is_world_process_zero:
                weights = _trainable_state(model, self.lora)
                ray.get(self.pool.sync_weights.remote([ray.put(weights)], state.global_step))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()


def _trainable_state(model: torch.nn.Module, lora: bool) -> dict[str, torch.Tensor]:
    if lora:
        from peft import get_peft_model_state_dict

        sd = get_peft_model_state_dict(model)
    else:
        sd = model.state_dict()
    return {k: v.detach().to("cpu", copy=True) for k, v in sd.items()}


class _gathered:
    """Gathers ZeRO-3 partitioned parameters for reading (a no-op otherwise)."""

    def __init__(self, trainer: Any, model: torch.nn.Module) -> None:
        self.ctx = None
        ds = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
        if ds is not None and ds.zero_stage == 3:
            import deepspeed

            params = [p for p in model.parameters() if p.requires_grad] or list(model.parameters())
            self.ctx = deepspeed.zero.GatheredParameters(params, modifier_rank=None)

    def __enter__(self):
        return self.ctx.__enter__() if self.ctx else None

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc) if self.ctx else False


def _rollout_table_rows(recent: list[Trajectory], cfg: RunConfig, every: int):
    """W&B rollout tables: one row per episode of the latest step (task, transcript, reward components)."""

    def rows(step: int) -> dict[str, Any]:
        if not recent or every <= 0 or step % every:
            return {}
        import wandb

        comps = list(cfg.rewards.components)
        table = wandb.Table(columns=["task_id", "sample", "version", "transcript", "total", *comps])
        for tr in recent:
            transcript = "\n".join(f"[{m['role']}] {m['content']}" for m in tr.episode.messages)
            table.add_data(tr.task_id, tr.sample_index, tr.version, transcript, tr.rewards["total"], *[tr.rewards[c] for c in comps])
        return {"rollouts": table}

    return rows


# ---------------------------------------------------------------------------------------------------
# The learner (one per Ray Train worker)
# ---------------------------------------------------------------------------------------------------


def grpo_args(cfg: RunConfig, world_size: int, ds_config: dict | None):
    """TRL GRPOConfig from our RunConfig (the DeepSpeed JSON is read by the driver: workers have another cwd)."""
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
        reward_weights=list(cfg.rewards.components.values()),
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


def _learner_loop(config: dict[str, Any]) -> None:
    from datasets import Dataset

    from rl.models import load_policy, peft_lora_config
    from rl.trainer import ToolGRPOTrainer

    cfg: RunConfig = config["cfg"]
    pool = config["pool"]
    tasks: list[Task] = config["tasks"]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    torch.set_num_threads(max(1, config.get("torch_threads", 1)))

    model, tok = load_policy(
        cfg.model.name_or_path,
        dtype=cfg.model.dtype,
        decision_tokens=cfg.format.name == "decision",
        allow_download=cfg.model.allow_download,
    )
    if cfg.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    timer = StepTimer()
    recent: list[Trajectory] = []
    timing = TimingCallback(timer)
    sync = WeightSync(pool, lora=cfg.model.lora is not None, timer=timer)
    logger = RunLogger(
        cfg.trainer.output_dir,
        cfg.logging.report_to,
        cfg.logging.project,
        cfg.logging.run_name,
        to_dict(cfg),
        timing=timing,
        extra_rows=_rollout_table_rows(recent, cfg, cfg.logging.rollout_table_every),
    )
    dataset = Dataset.from_list([{"prompt": t.id} for t in tasks])
    trainer = ToolGRPOTrainer(
        model=model,
        processing_class=tok,
        reward_funcs=[ComponentReward(c) for c in cfg.rewards.components],
        args=grpo_args(cfg, world, config.get("deepspeed")),
        train_dataset=dataset,
        peft_config=peft_lora_config(cfg.model.lora, model) if cfg.model.lora else None,
        rollout_func=make_rollout_func(pool, {t.id: t for t in tasks}, cfg, timer, recent),
        callbacks=[sync, timing, logger],  # order matters: sync time lands inside the step's timing
    )
    sync.trainer = trainer
    resume = config.get("resume_from")
    trainer.train(resume_from_checkpoint=resume)
    if trainer.accelerator.is_main_process:
        save_final(trainer, tok, cfg)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def save_final(trainer: Any, tokenizer: Any, cfg: RunConfig) -> Path:
    """Saves `<output_dir>/final`: the adapter (with the run's base model spec) or the full model."""
    out = Path(cfg.trainer.output_dir) / "final"
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    adapter_cfg = out / "adapter_config.json"
    if adapter_cfg.is_file():
        # Point the adapter at the spec this run started from (an alias or a path), so load_policy can
        # rebuild it on any machine that resolves the same spec.
        data = json.loads(adapter_cfg.read_text())
        data["base_model_name_or_path"] = cfg.model.name_or_path
        adapter_cfg.write_text(json.dumps(data, indent=2))
    (out / "toolgym_step.txt").write_text(str(trainer.state.global_step))
    return out


# ---------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------


def train(cfg: RunConfig, tasks: list[Task], resume: bool = False) -> dict[str, Any]:
    """Runs GRPO: starts the rollout pool and the Ray Train learners; returns a summary.

    Args:
        cfg: The run config.
        tasks: Training tasks.
        resume: Continue from the latest checkpoint in `trainer.output_dir` (weights, optimizer, RNG, data
            position, W&B run id).
    """
    from ray.train import RunConfig as RayRunConfig
    from ray.train import ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from transformers.trainer_utils import get_last_checkpoint

    from rl.models import absolute_spec

    out = Path(cfg.trainer.output_dir).resolve()
    refuse_stale_run(out, resume)
    cfg.trainer.output_dir = str(out)  # learners and rollout workers run in other directories
    cfg.model.name_or_path = absolute_spec(cfg.model.name_or_path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "toolgym_config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    resume_from = get_last_checkpoint(str(out)) if resume and out.is_dir() else None
    if resume and resume_from is None:
        log.warning("--resume: no checkpoint in %s; starting from scratch", out)

    pool = _rollout_pool(cfg)
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
        return {
            "output_dir": str(out),
            "final": str(final),
            "steps": int((final / "toolgym_step.txt").read_text()) if (final / "toolgym_step.txt").is_file() else None,
            "wall_s": time.perf_counter() - t,
            "lost_batches": ray.get(pool.rollout.remote([]))[1]["lost_batches"],
            "worker_versions": ray.get(pool.versions.remote()),
        }
    finally:
        ray.kill(pool)  # its rollout workers share its fate: their CPUs and memory are freed


def _rollout_pool(cfg: RunConfig):
    from rl.rollout import RolloutPool

    return RolloutPool.remote(cfg)
