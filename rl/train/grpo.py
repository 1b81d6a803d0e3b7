"""GRPO: TRL's GRPOTrainer owns the loss, on the Ray rollouts of the RolloutBridge (rl/train/run.py starts the
pool and the learners; DeepSpeed ZeRO optional, gloo on CPU, NCCL on GPU).

One optimizer step:
    1. GRPOTrainer asks `RolloutBridge.rollout_func` for completions of this process's prompts (task ids, each
       repeated num_generations times).
    2. The pool plays the episodes on the workers, seeded by (step, task id, sample index), and scores them.
    3. TRL turns the reward components (one TRL reward function each, weighted from config) into group-
       normalised advantages, and computes the loss on policy tokens only (env_mask), over length-grouped
       micro-batches without pad columns (`ToolGRPOTrainer`, rl/train/batching.py); with
       `algorithm.skip_flat_groups`, without the rows whose advantage is 0.
    4. After the optimizer step, the bridge sends the new LoRA (or full) weights to every worker, tagged with
       the new step: rollouts of step s always come from weights of version s (on-policy).

With `algorithm.async_rollouts` (one-step-off-policy), the trainer pulls the next step's batch one step early
(`upcoming_prompts`) and the bridge starts playing it before this step's learning begins: step s+1's episodes come
from the weights of step s while the learner trains on step s's (played by the weights of step s-1). TRL's loss
then takes the workers' sampling log-probs as its old policy (`_learn_off_policy`): each token's ratio is its
importance weight pi_current / pi_sampling, clipped as PPO clips.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from envs.types import Task
from rl.config import RLRunConfig
from rl.train.batching import informative_rows, length_grouped_microbatches
from rl.train.bridge import RolloutBridge

# ---------------------------------------------------------------------------------------------------
# The trainer: TRL's GRPO loss over length-grouped, unpadded micro-batches
# ---------------------------------------------------------------------------------------------------


class ToolGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose training micro-batches are length-grouped and unpadded (see rl/train/batching.py).

    Args:
        skip_flat_groups: Leave rows with zero advantage out of the learner's forward and backward (exact only
            under `dapo` with `beta: 0`, which `AlgorithmConfig` enforces).
        off_policy: One-step-off-policy rollouts: the batches of the next step are pulled one step early
            (`upcoming_prompts`), and the loss's old policy is the one that sampled the episodes.
        **kwargs: GRPOTrainer's.
    """

    def __init__(self, *args: Any, skip_flat_groups: bool = False, off_policy: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_flat_groups = skip_flat_groups
        self.off_policy = off_policy
        self._ahead: tuple[Any, list] | None = None  # (epoch iterator, the next step's batches) when async

    # ---- the next step's batch, pulled one step early (async rollouts) ---------------------------------
    def get_batch_samples(self, epoch_iterator, num_batches, device):
        if not self.off_policy:
            return super().get_batch_samples(epoch_iterator, num_batches, device)
        if self._ahead is not None and self._ahead[0] is epoch_iterator:
            current = self._ahead[1]
        else:  # the first step of an epoch (a new iterator): nothing was pulled ahead
            current, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        ahead, _ = super().get_batch_samples(epoch_iterator, num_batches, device)  # [] at the epoch's end
        self._ahead = (epoch_iterator, ahead)
        return current, None  # no "labels" in GRPO batches: HF counts no items

    def upcoming_prompts(self) -> list[str] | None:
        """This process's prompts of the next optimizer step (async rollouts), or None where they are not known:
        on-policy runs, and the last step of an epoch."""
        if self._ahead is None or not self._ahead[1]:
            return None
        return [row["prompt"] for row in self._ahead[1][0]]  # every batch of a step is the same generation batch

    def _prepare_inputs(self, generation_batch: dict[str, Any]) -> dict[str, Any]:
        if not self.model.training:
            return super()._prepare_inputs(generation_batch)
        n = self.args.steps_per_generation
        if self.num_iterations != 1 or n != self.args.gradient_accumulation_steps:
            raise ValueError("ToolGRPOTrainer needs one generation per optimizer step (num_iterations=1, steps_per_generation=gradient_accumulation_steps)")
        if self._step % n == 0 or self._buffered_inputs is None:  # None after resuming from a checkpoint
            scored = self._generate_and_score_completions(generation_batch)
            if self.skip_flat_groups:
                rows = len(scored["advantages"])
                scored, skipped = informative_rows(scored, n)
                self._metrics["train"]["zero_advantage_rows_skipped_frac"].append(skipped / rows)
            self._buffered_inputs = length_grouped_microbatches(scored, n)
            if self.off_policy:
                self._learn_off_policy(self._buffered_inputs)
        return self._buffered_inputs[self._step % n]

    def _learn_off_policy(self, micro_batches: list[dict[str, Any]]) -> None:
        """Makes the sampling policy TRL's old policy, and logs the importance ratios of one micro-batch.

        TRL's loss is PPO's clipped surrogate of the ratio pi / pi_old. In its own off-policy settings
        (num_iterations > 1, steps_per_generation > accumulation steps) pi_old is the policy that sampled the
        episodes, recomputed by a forward pass. Ours are sampled by the workers, whose log-probs are those of the
        learner's forward at the same weights (9.3e-7 nats a token apart at staleness 0 on the demo's shapes), so
        they are pi_old without the pass. That pass, over the whole batch, cost more than the overlap saved:
        async steps took 52.9 s with it and 40.5 s without (two runs of `launch/bench.py async`). The ratio of a token is then
        the importance weight pi_current / pi_sampling, and PPO's clip truncates it where it would push further:
        TRL logs that share as `clip_ratio/region_mean`.

        The ratios' mean and spread need the current log-probs before the loss: one no-grad forward of the
        shortest micro-batch measures them.
        """
        for mb in micro_batches:
            mb["old_per_token_logps"] = mb["sampling_per_token_logps"]  # [b, Tc]
        mb = micro_batches[-1]  # the shortest rows (sorted by length)
        ids = torch.cat([mb["prompt_ids"], mb["completion_ids"]], dim=1)  # [b, Tp+Tc]
        attention = torch.cat([mb["prompt_mask"], mb["completion_mask"]], dim=1)  # [b, Tp+Tc]
        with torch.no_grad():
            current, _, _ = self._get_per_token_logps_and_entropies(self.model, ids, attention, mb["completion_ids"].size(1))
        mask = (mb["completion_mask"] * mb["tool_mask"]).bool()  # [b, Tc]: the policy's own tokens
        log_ratio = (current - mb["sampling_per_token_logps"])[mask]  # [N]
        if not len(log_ratio):
            return
        ratio = log_ratio.exp()
        m = self._metrics["train"]
        m["async/is_ratio_mean"].append(ratio.mean().item())
        m["async/is_ratio_outside_clip_frac"].append(
            ((ratio < 1 - self.epsilon_low) | (ratio > 1 + self.epsilon_high)).float().mean().item())
        m["async/logp_gap_mean"].append(log_ratio.abs().mean().item())


def grpo_args(cfg: RLRunConfig, world_size: int, ds_config: dict | None, reward_weights: list[float]):
    """TRL GRPOConfig from our config."""
    from trl import GRPOConfig

    from rl.train.run import trainer_kwargs

    a, tr = cfg.algorithm, cfg.trainer
    global_batch = a.prompts_per_step * a.num_generations
    return GRPOConfig(
        **trainer_kwargs(cfg, ds_config),
        # TRL generates once per optimizer step (steps_per_generation = accumulation steps) and the weights
        # do not change within the step, so rollouts stay exactly on-policy.
        per_device_train_batch_size=global_batch // (world_size * tr.gradient_accumulation_steps),
        num_generations=a.num_generations,
        beta=a.beta,
        epsilon=a.epsilon,
        loss_type=a.loss_type,
        scale_rewards=a.scale_rewards,
        multi_objective_aggregation=a.multi_objective_aggregation,
        reward_weights=reward_weights,
        # TRL's GRPOConfig turns activation checkpointing on by default; ours is off unless the config asks
        # (at this size on CPU memory is not short, and the recomputation cost 10-20% in standalone runs here).
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        max_completion_length=cfg.rollout.max_total_tokens,
        log_completions=False,
        # The loss takes log-probs at the temperature the workers sample at, so that its gradient is that of the
        # sampling policy (and comparable with the workers' logprobs); TRL's default is 1.0.
        temperature=cfg.rollout.temperature,
        # stratified, paired: the tasks come in their rl.data order (rl/train/run.py), which TRL's sampler then keeps
        shuffle_dataset=a.task_order == "shuffled",
    )


def build_learner(cfg: RLRunConfig, pool: Any, tasks: list[Task], world: int, ds_config: dict | None,
                  eval_tasks: dict[str, list[Task]]) -> ToolGRPOTrainer:
    """The GRPO learner of one Ray Train worker, its bridge's callbacks attached."""
    from datasets import Dataset

    from rl.checkpoint import load_policy
    from rl.models import peft_lora_config

    model, tok = load_policy(cfg.model.name_or_path, dtype=cfg.model.dtype, fmt=cfg.format,
                             allow_download=cfg.model.allow_download)
    if cfg.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    bridge = RolloutBridge(pool, tasks, cfg, eval_tasks=eval_tasks)
    trainer = ToolGRPOTrainer(
        model=model,
        processing_class=tok,
        reward_funcs=bridge.reward_funcs,
        args=grpo_args(cfg, world, ds_config, bridge.reward_weights),
        train_dataset=Dataset.from_list([{"prompt": t.id} for t in tasks]),
        peft_config=peft_lora_config(cfg.model.lora, model) if cfg.model.lora else None,
        rollout_func=bridge.rollout_func,
        skip_flat_groups=cfg.algorithm.skip_flat_groups,
        off_policy=cfg.algorithm.async_rollouts,
    )
    for callback in bridge.callbacks(trainer):
        trainer.add_callback(callback)
    return trainer
