"""PPO with a critic, on the same Ray rollouts, learners, weight sync and checkpoints as GRPO (algorithm.name: ppo).

One PPO iteration is `ppo.ppo_epochs * ppo.mini_batches` optimizer steps of the HF Trainer:

    1. rollouts  RolloutBridge.play: this learner's share of the iteration's episodes, from the current weights
    2. score     old log-probs of the sampled tokens (policy at the sampling temperature), reference log-probs
                 (the policy without its adapter: the starting checkpoint), values (critic)
    3. rewards   token-level (`token_rewards`): each component's share of a user turn on the last policy token
                 of that turn's last assistant message (ppo.turn_level), the rest on the episode's last policy
                 token; minus beta * KL to the reference on every policy token
    4. GAE       (`gae`) over policy tokens only: environment tokens (env_mask = 0) get no reward, value target
                 or advantage, and the recursion steps over them; gamma discounts per policy token
    5. update    ppo_epochs passes over the batch, each in mini_batches optimizer steps of length-grouped,
                 unpadded micro-batches: clipped policy loss + vf_coef * clipped value loss (`ppo_losses`)

The critic is a second copy of the starting checkpoint with its own LoRA and a linear value head, in one module
with the policy (`ActorCritic`), so one optimizer, one DeepSpeed engine (ZeRO partitions both alike) and one
checkpoint hold both. A value head on the policy's own base would save the copy, but it needs the policy's and
the critic's adapters active in turn within one step, and PEFT freezes the inactive adapter when it switches. The
copy costs the base model's weights once more and a forward/backward of the same size as the policy's (the demo
model: +0.54 GB of float32 weights; the learner's step time in README, Results).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import Trainer, TrainingArguments, set_seed

from rl.config import RLRunConfig
from rl.rollout.episodes import Trajectory
from rl.train.batching import length_grouped_microbatches
from rl.train.bridge import RolloutBridge

# ---------------------------------------------------------------------------------------------------
# The algorithm: token rewards, GAE, losses
# ---------------------------------------------------------------------------------------------------


def message_spans(env_mask: list[int]) -> list[tuple[int, int]]:
    """(first, last) completion index of each assistant message: the maximal runs of policy tokens."""
    spans, start = [], None
    for t, m in enumerate(env_mask):
        if m and start is None:
            start = t
        if not m and start is not None:
            spans.append((start, t - 1))
            start = None
    if start is not None:
        spans.append((start, len(env_mask) - 1))
    return spans


def token_rewards(tr: Trajectory, weights: dict[str, float], turn_level: list[str], num_turns: int) -> list[float]:
    """The episode's weighted reward placed on its policy tokens; the values sum to `tr.rewards["total"]`.

    A component in `turn_level` that scored each user turn puts turn k's share (its turn score, scaled so the
    shares sum to the component's score) on the last policy token of turn k's last assistant message; every
    other component, and the share of a turn the episode never reached, goes on the last policy token.
    """
    rewards = [0.0] * len(tr.completion_ids)
    spans = message_spans(tr.env_mask)
    if not spans:
        return rewards
    end = spans[-1][1]
    turn_end: dict[int, int] = {}
    if len(spans) == len(tr.episode.steps):  # one assistant message per step, in order
        for (_, last), step in zip(spans, tr.episode.steps, strict=True):
            turn_end[step.turn] = last
    for name, w in weights.items():
        score = tr.rewards[name]
        shares = tr.turn_scores.get(name) if name in turn_level else None
        if shares and len(shares) == num_turns and sum(shares) > 0:
            for k, s in enumerate(shares):
                rewards[turn_end.get(k, end)] += w * s * score / sum(shares)
        else:
            rewards[end] += w * score
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over the policy tokens of each row, stepping over the others.

    Args:
        rewards: [B, T] rewards (zero off the policy tokens).
        values: [B, T] the critic's value of the state before each token.
        mask: [B, T] 1 on policy tokens (env_mask), 0 on environment tokens and padding.
        gamma: Discount per policy token.
        lam: GAE lambda.

    Returns:
        advantages [B, T] and returns (value targets) [B, T], zero off the policy tokens.
    """
    B, T = rewards.shape
    mask = mask.bool()
    adv = torch.zeros_like(rewards)  # [B, T]
    next_adv = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)  # [B] A at the next policy token
    next_value = torch.zeros_like(next_adv)  # [B] V at the next policy token (0 after the last)
    for t in reversed(range(T)):
        m = mask[:, t]  # [B]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        a = delta + gamma * lam * next_adv
        adv[:, t] = torch.where(m, a, torch.zeros_like(a))
        next_adv = torch.where(m, a, next_adv)  # environment tokens carry the next policy token's terms over
        next_value = torch.where(m, values[:, t], next_value)
    returns = (adv + values) * mask  # [B, T]
    return adv, returns


def kl_penalty(logps: torch.Tensor, ref_logps: torch.Tensor, estimator: str) -> torch.Tensor:
    """Per-token KL(policy || reference) estimate from the sampled tokens' log-probs: k1 or k3 (Schulman)."""
    log_ratio = logps - ref_logps  # [B, T]
    if estimator == "k1":
        return log_ratio
    return torch.exp(-log_ratio) + log_ratio - 1.0  # k3: non-negative, unbiased


def ppo_losses(
    logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, values: torch.Tensor,
    old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float, value_clip: float,
) -> dict[str, torch.Tensor]:
    """Clipped policy and value losses, summed over the policy tokens (the caller divides by the mini-batch's
    policy-token count, so micro-batches of one mini-batch add up to its token mean).

    All tensors are [b, T]; `mask` is 1 on policy tokens.
    """
    on = mask.bool()

    def total(x: torch.Tensor) -> torch.Tensor:  # where(), not a product: an inf off the mask must not give nan
        return torch.where(on, x, torch.zeros_like(x)).sum()

    log_ratio = torch.where(on, logps - old_logps, torch.zeros_like(logps))  # [b, T]
    ratio = torch.exp(log_ratio)  # [b, T]
    pg = torch.maximum(-advantages * ratio, -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip))  # [b, T]
    v_clipped = old_values + torch.clamp(values - old_values, -value_clip, value_clip)  # [b, T]
    vf = 0.5 * torch.maximum((values - returns) ** 2, (v_clipped - returns) ** 2)  # [b, T]
    return {
        "policy": total(pg),
        "value": total(vf),
        "clipped": total(((ratio - 1.0).abs() > clip).to(logps.dtype)),
        "approx_kl": total((ratio - 1.0) - log_ratio),  # k3 of the old policy to the new
        "value_clipped": total(((values - old_values).abs() > value_clip).to(logps.dtype)),
    }


# ---------------------------------------------------------------------------------------------------
# The model: policy + critic in one module
# ---------------------------------------------------------------------------------------------------


class ActorCritic(nn.Module):
    """The policy (PEFT LoRA model) and the critic (its own copy of the checkpoint with a LoRA and a value head).

    `forward` runs both on the same tokens, through one module call, so DeepSpeed sees one model.
    """

    def __init__(self, policy: nn.Module, critic: nn.Module) -> None:
        super().__init__()
        self.policy = policy
        self.critic = critic
        hidden = critic.get_base_model().config.hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_head.weight)  # V = 0 at the start: the first advantages are the returns
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_len: int, temperature: float,
                reference: bool = False) -> dict[str, torch.Tensor]:
        """Log-probs and entropies of the completion tokens under the policy, and the critic's values.

        Args:
            input_ids: [b, Tp + Tc] prompt (left-padded) then completion (right-padded).
            attention_mask: [b, Tp + Tc].
            completion_len: Tc.
            temperature: The sampling temperature the log-probs are taken at.
            reference: Only the reference log-probs: the policy with its adapter disabled, no critic.
        """
        Tc = completion_len
        targets = input_ids[:, -Tc:]  # [b, Tc]
        if reference:
            with self.policy.disable_adapter():
                logits = self.policy(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=Tc + 1).logits
            return {"logps": _token_logps(logits[:, :-1] / temperature, targets)[0]}
        logits = self.policy(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=Tc + 1).logits
        logps, entropy = _token_logps(logits[:, :-1] / temperature, targets)  # [b, Tc] each
        hidden = self.critic(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True,
                             logits_to_keep=1).hidden_states[-1]  # [b, Tp + Tc, H]
        values = self.value_head(hidden[:, -Tc - 1 : -1]).squeeze(-1)  # [b, Tc] the state before each token
        return {"logps": logps, "entropy": entropy, "values": values}


def _token_logps(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logp_all = torch.log_softmax(logits.float(), dim=-1)  # [b, Tc, V]
    logps = logp_all.gather(-1, targets[..., None]).squeeze(-1)  # [b, Tc]
    entropy = -(logp_all.exp() * logp_all).sum(-1)  # [b, Tc]
    return logps, entropy


# ---------------------------------------------------------------------------------------------------
# The trainer: rollout iterations in the HF Trainer's step loop
# ---------------------------------------------------------------------------------------------------


class PPOTrainer(Trainer):
    """HF Trainer whose micro-batches come from PPO iterations (see the module doc).

    Args:
        model: The ActorCritic.
        args: TrainingArguments (`ppo_args`).
        cfg: The run config.
        bridge: The run's RolloutBridge.
        tokenizer: The policy's tokenizer.
        task_ids: The training tasks' ids.
    """

    def __init__(self, model: ActorCritic, args: TrainingArguments, cfg: RLRunConfig, bridge: RolloutBridge,
                 tokenizer: Any, task_ids: list[str]) -> None:
        from datasets import Dataset

        k, accum = cfg.ppo.steps_per_iteration, args.gradient_accumulation_steps
        slots = Dataset.from_list([{"slot": i} for i in range(cfg.trainer.max_steps * accum * cfg.trainer.num_learners)])
        super().__init__(model=model, args=args, train_dataset=slots, processing_class=tokenizer,
                         data_collator=_slots)
        self.cfg, self.bridge, self.task_ids, self.steps_per_iteration = cfg, bridge, task_ids, k
        self.pad_id = tokenizer.pad_token_id
        self.loss_is_scaled_for_ga = True  # each micro-batch's loss is already its share of its mini-batch
        self._queue: list[dict[str, Any]] = []  # the rest of the iteration's micro-batches
        self._metrics: dict[str, tuple[float, float]] = {}  # name -> (sum, count) since the last log

    def create_optimizer(self, model=None):
        """AdamW with the critic's own learning rate (ppo.critic_learning_rate)."""
        if self.optimizer is None:
            m = self.model
            critic_lr = self.cfg.ppo.critic_learning_rate or self.args.learning_rate
            groups = [
                {"params": [p for p in m.policy.parameters() if p.requires_grad], "lr": self.args.learning_rate},
                {"params": [p for n, p in m.named_parameters() if p.requires_grad and not n.startswith("policy.")],
                 "lr": critic_lr},
            ]
            self.optimizer = torch.optim.AdamW(groups, weight_decay=self.args.weight_decay)
        return self.optimizer

    # ---- data: one rollout per iteration --------------------------------------------------------------
    def _prepare_inputs(self, inputs: Any) -> dict[str, Any]:
        if not self._queue:  # the iteration's first micro-batch (checkpoints fall on iteration boundaries)
            self._queue = self._iteration()
        return self._queue.pop(0)

    def _iteration(self) -> list[dict[str, Any]]:
        a, p = self.cfg.algorithm, self.cfg.ppo
        step = self.state.global_step
        iteration = step // self.steps_per_iteration
        tasks = iteration_tasks(self.task_ids, iteration, a.prompts_per_step, a.task_order, self.cfg.trainer.seed)
        batch = [t for t in tasks for _ in range(a.num_generations)]  # the global batch, groups contiguous
        n = len(batch) // self.args.world_size
        rank = self.args.process_index
        trajs = self.bridge.play(step, batch[rank * n : (rank + 1) * n], rank * n)
        scored = self._score(trajs)
        self._log_rollout(trajs, scored)
        out = []
        for epoch in range(p.ppo_epochs):
            shuffle = torch.Generator().manual_seed(self.cfg.trainer.seed * 1_000_003 + iteration * 1009 + epoch)
            order = torch.randperm(n, generator=shuffle)  # [n]
            for mb in torch.chunk(order, p.mini_batches):
                mini = {k: v[mb] for k, v in scored.items()}
                # The loss is a token mean over every learner's share of the mini-batch; learners' gradients are
                # averaged, so each divides its token sum by the global count over the number of learners.
                tokens = self.accelerator.reduce(mini["env_mask"].sum().float(), "sum")
                mini["tokens"] = (tokens / self.args.world_size).clamp(min=1)
                out += length_grouped_microbatches(mini, self.args.gradient_accumulation_steps)
        return out

    @torch.no_grad()
    def _score(self, trajs: list[Trajectory]) -> dict[str, torch.Tensor]:
        """The rollout as padded tensors, with old log-probs, values, token rewards, advantages and returns."""
        cfg, p = self.cfg, self.cfg.ppo
        dev = self.args.device
        Tp, Tc = max(len(t.prompt_ids) for t in trajs), max(len(t.completion_ids) for t in trajs)
        B = len(trajs)
        batch = {
            "prompt_ids": torch.full((B, Tp), self.pad_id, dtype=torch.long),  # left-padded
            "prompt_mask": torch.zeros((B, Tp), dtype=torch.long),
            "completion_ids": torch.full((B, Tc), self.pad_id, dtype=torch.long),  # right-padded
            "completion_mask": torch.zeros((B, Tc), dtype=torch.long),
            "env_mask": torch.zeros((B, Tc), dtype=torch.long),  # 1 = policy token
            "rewards": torch.zeros((B, Tc)),
        }
        weights = dict(cfg.rewards.components)
        for i, tr in enumerate(trajs):
            lp, lc = len(tr.prompt_ids), len(tr.completion_ids)
            batch["prompt_ids"][i, Tp - lp :] = torch.tensor(tr.prompt_ids)
            batch["prompt_mask"][i, Tp - lp :] = 1
            batch["completion_ids"][i, :lc] = torch.tensor(tr.completion_ids)
            batch["completion_mask"][i, :lc] = 1
            batch["env_mask"][i, :lc] = torch.tensor(tr.env_mask)
            num_turns = len(self.bridge.tasks_by_id[tr.task_id].turns)
            batch["rewards"][i, :lc] = torch.tensor(token_rewards(tr, weights, p.turn_level, num_turns))
        old_logps, ref_logps, values = (torch.zeros((B, Tc)) for _ in range(3))
        micro = max(1, B // self.args.gradient_accumulation_steps)
        model = self.model_wrapped if self.model_wrapped is not None else self.model
        was_training = model.training
        model.eval()
        for s in range(0, B, micro):
            rows = slice(s, s + micro)
            ids = torch.cat([batch["prompt_ids"][rows], batch["completion_ids"][rows]], 1).to(dev)
            attn = torch.cat([batch["prompt_mask"][rows], batch["completion_mask"][rows]], 1).to(dev)
            out = model(ids, attn, Tc, cfg.rollout.temperature)
            old_logps[rows], values[rows] = out["logps"].float().cpu(), out["values"].float().cpu()
            if cfg.algorithm.beta > 0:
                ref_logps[rows] = model(ids, attn, Tc, cfg.rollout.temperature, reference=True)["logps"].float().cpu()
        model.train(was_training)
        mask = batch["env_mask"].float()
        kl = kl_penalty(old_logps, ref_logps, p.kl_estimator) * mask if cfg.algorithm.beta > 0 else torch.zeros_like(mask)
        adv, returns = gae(batch["rewards"] - cfg.algorithm.beta * kl, values * mask, mask, p.gamma, p.lam)
        if p.whiten_advantages:
            adv = _whiten(adv, mask, self.accelerator)
        batch.update(old_logps=old_logps, old_values=values * mask, advantages=adv, returns=returns)
        n = float(mask.sum())
        self._add("ppo/kl_ref", float((kl * mask).sum()), n)
        for name, x in (("returns", returns), ("residual", returns - values * mask)):  # explained variance, in log()
            self._add(f"_ev/{name}", float((x * mask).sum()), n)
            self._add(f"_ev/{name}_sq", float((x * x * mask).sum()), n)
        return {k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def _log_rollout(self, trajs: list[Trajectory], scored: dict[str, torch.Tensor]) -> None:
        n = len(trajs)
        self._add("reward", sum(tr.rewards["total"] for tr in trajs), n)
        self._add("_reward_sq", sum(tr.rewards["total"] ** 2 for tr in trajs), n)
        for c in self.bridge.components:
            self._add(f"rewards/{c}/mean", sum(tr.rewards[c] for tr in trajs), n)
        self._add("completions/mean_length", float(scored["completion_mask"].sum()), n)

    def _add(self, name: str, total: float, count: float) -> None:
        """Accumulates a metric as (sum, count) until the next log, where every learner's are added up."""
        s, c = self._metrics.get(name, (0.0, 0.0))
        self._metrics[name] = (s + total, c + count)

    # ---- loss -------------------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        p = self.cfg.ppo
        Tc = inputs["completion_ids"].shape[1]
        ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1)
        attn = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1)
        out = model(ids, attn, Tc, self.cfg.rollout.temperature)
        mask = inputs["env_mask"]
        losses = ppo_losses(out["logps"], inputs["old_logps"], inputs["advantages"], out["values"],
                            inputs["old_values"], inputs["returns"], mask, self.cfg.algorithm.epsilon, p.value_clip)
        n = inputs["tokens"]  # policy tokens of the mini-batch (over every learner) / number of learners
        loss = (losses["policy"] + p.vf_coef * losses["value"]) / n
        with torch.no_grad():
            tokens = float(mask.sum())
            names = {"policy": "policy_loss", "value": "value_loss", "clipped": "clip_fraction",
                     "approx_kl": "approx_kl", "value_clipped": "value_clip_fraction"}
            for name, key in names.items():
                self._add(f"ppo/{key}", float(losses[name]), tokens)
            self._add("ppo/entropy", float((out["entropy"] * mask).sum()), tokens)
        return loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds the means of the metrics since the last log, over every learner's rollouts and tokens."""
        m, self._metrics = self._metrics, {}
        names = sorted(m)  # the same metrics, in the same order, on every learner
        if names:
            sums = self.accelerator.reduce(torch.tensor([m[k] for k in names], device=self.args.device), "sum").cpu()
            mean = {k: float(sums[i, 0] / max(float(sums[i, 1]), 1.0)) for i, k in enumerate(names)}
            if "reward" in mean:
                mean["reward_std"] = math.sqrt(max(mean.pop("_reward_sq") - mean["reward"] ** 2, 0.0))
            if "_ev/returns" in mean:
                var = {x: mean.pop(f"_ev/{x}_sq") - mean.pop(f"_ev/{x}") ** 2 for x in ("returns", "residual")}
                mean["ppo/explained_variance"] = 1 - var["residual"] / var["returns"] if var["returns"] > 1e-12 else 0.0
            logs.update(mean)
        super().log(logs, start_time)

    # ---- checkpoints: the policy's adapter, the critic's adapter and value head ---------------------------
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        from safetensors.torch import save_file

        out = Path(output_dir or self.args.output_dir)
        if not self.args.should_save:
            return
        out.mkdir(parents=True, exist_ok=True)
        m = self.accelerator.unwrap_model(self.model)
        full = state_dict if state_dict is not None else m.state_dict()
        part = {name: {k[len(name) + 1 :]: v for k, v in full.items() if k.startswith(name + ".")}
                for name in ("policy", "critic", "value_head")}
        m.policy.save_pretrained(out, state_dict=part["policy"])
        m.critic.save_pretrained(out / "critic", state_dict=part["critic"])
        save_file({k: v.detach().cpu().contiguous() for k, v in part["value_head"].items()}, out / "critic" / "value_head.safetensors")
        self.processing_class.save_pretrained(out)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        load_critic(model or self.model, Path(resume_from_checkpoint))


def _slots(rows: list[dict[str, int]]) -> list[dict[str, int]]:
    return rows  # the slots only count micro-batches; `_prepare_inputs` supplies the rows


def load_critic(model: ActorCritic, checkpoint: Path) -> None:
    """Restores both adapters and the value head from a PPO checkpoint directory (`PPOTrainer._save`)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model.policy, load_file(checkpoint / "adapter_model.safetensors"))
    set_peft_model_state_dict(model.critic, load_file(checkpoint / "critic" / "adapter_model.safetensors"))
    model.value_head.load_state_dict(load_file(checkpoint / "critic" / "value_head.safetensors"))


def _whiten(adv: torch.Tensor, mask: torch.Tensor, accelerator: Any) -> torch.Tensor:
    """Advantages normalised to mean 0 and variance 1 over the policy tokens of every learner's batch."""
    stats = torch.stack([(adv * mask).sum(), (adv * adv * mask).sum(), mask.sum()]).to(accelerator.device)
    stats = accelerator.reduce(stats, reduction="sum").cpu()
    mean = stats[0] / stats[2].clamp(min=1)
    var = stats[1] / stats[2].clamp(min=1) - mean**2
    return (adv - mean) / torch.sqrt(var.clamp(min=0) + 1e-8) * mask


def ppo_args(cfg: RLRunConfig, ds_config: dict | None) -> TrainingArguments:
    """HF TrainingArguments of the PPO learner."""
    from rl.train.run import trainer_kwargs

    return TrainingArguments(
        **trainer_kwargs(cfg, ds_config),
        per_device_train_batch_size=1,  # slots of the dummy dataset; the rows come from the rollout
        gradient_checkpointing=False,
    )


def iteration_tasks(task_ids: list[str], iteration: int, k: int, order: str, seed: int) -> list[str]:
    """The k tasks of one PPO iteration. "stratified", "paired": `task_ids` come in that rl.data order (rl/train/run.py)
    and iterations take consecutive slices of it, wrapping around; "shuffled": a draw seeded by (seed, iteration),
    so a resumed run plays the same tasks."""
    if order != "shuffled":
        return [task_ids[(iteration * k + j) % len(task_ids)] for j in range(k)]
    rng = random.Random(f"{seed}/{iteration}")
    return rng.sample(task_ids, k) if k <= len(task_ids) else rng.choices(task_ids, k=k)


def build_learner(cfg: RLRunConfig, pool: Any, tasks: list, world: int, ds_config: dict | None,
                  eval_tasks: dict[str, list]) -> PPOTrainer:
    """The PPO learner of one Ray Train worker: policy and critic from the run's starting checkpoint.

    `world` is unused: the HF Trainer reads the process group itself (the signature is GRPO's).
    """
    from rl.checkpoint import load_policy

    m = cfg.model
    if m.lora is None:
        raise ValueError("algorithm.name: ppo trains LoRA adapters (model.lora); full fine-tuning is GRPO only")
    set_seed(cfg.trainer.seed)  # the adapters' initial A matrices: the same run gives the same updates
    policy, tok = load_policy(m.name_or_path, dtype=m.dtype, fmt=cfg.format,
                              lora=m.lora, allow_download=m.allow_download)
    critic, _ = load_policy(m.name_or_path, dtype=m.dtype, fmt=cfg.format,
                            lora=m.lora, allow_download=m.allow_download)
    model = ActorCritic(policy, critic)
    bridge = RolloutBridge(pool, tasks, cfg, policy_of=lambda mod: mod.policy, eval_tasks=eval_tasks)
    trainer = PPOTrainer(model, ppo_args(cfg, ds_config), cfg, bridge, tok, [t.id for t in tasks])
    for callback in bridge.callbacks(trainer, sync_every=cfg.ppo.steps_per_iteration):
        trainer.add_callback(callback)
    return trainer

