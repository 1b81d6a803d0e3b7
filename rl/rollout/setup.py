"""What a rollout worker is built from, with no Ray: `RolloutSetup` (taken from a stage's config) and
`build_runner` (an EpisodeRunner over an in-process model). The Ray pool (rl/rollout/pool.py) builds its workers
from these, and so do in-process evaluation and the benchmarks.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch

import rewards
from rl.config import (
    EnvConfig,
    FormatConfig,
    LoraConfig,
    PolicyConfig,
    RewardsConfig,
    RolloutConfig,
    SampledRolloutConfig,
)
from rl.rollout.chat import ChatRenderer
from rl.rollout.engine import HFEngine
from rl.rollout.episodes import EpisodeRunner, Limits


@dataclass(frozen=True)
class RolloutSetup:
    """Everything a rollout worker needs, taken from whichever stage starts the pool (RL or evaluation).

    Attributes:
        policy: What to load (name_or_path must be absolute or an alias: workers run in other directories).
        lora: The adapter the learner trains (None: the workers receive full weights, or none at all).
        format: The tool-call format.
        env: Env limits.
        rollout: Engine, workers and episode limits.
        rewards: Reward components and weights.
        temperature: Sampling temperature of seeded episodes (an episode without a seed is greedy).
        top_p: Nucleus threshold of seeded episodes.
    """

    policy: PolicyConfig
    lora: LoraConfig | None
    format: FormatConfig
    env: EnvConfig
    rollout: RolloutConfig
    rewards: RewardsConfig
    temperature: float = 1.0
    top_p: float = 1.0

    @classmethod
    def of(cls, cfg: Any, lora: LoraConfig | None = None) -> RolloutSetup:
        """The setup of a stage config (RLRunConfig samples with its rollout.temperature; EvalRunConfig is greedy)."""
        policy = PolicyConfig(cfg.model.name_or_path, cfg.model.dtype, cfg.model.allow_download)
        sampled = isinstance(cfg.rollout, SampledRolloutConfig)
        return cls(policy, lora, cfg.format, cfg.env, cfg.rollout, cfg.rewards,
                   cfg.rollout.temperature if sampled else 1.0, cfg.rollout.top_p if sampled else 1.0)

    def with_workers(self, n: int) -> RolloutSetup:
        return dataclasses.replace(self, rollout=dataclasses.replace(self.rollout, num_workers=n))


def use_deterministic_kernels() -> None:
    """Makes this process's torch kernels deterministic, so that an episode's tokens depend only on its seed.

    Call it before the process's first CUDA matmul: cuBLAS reads its workspace setting when it starts. PyTorch
    requires that setting for deterministic cuBLAS matmuls (its "Reproducibility" notes).
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)


def reward_spec(setup: RolloutSetup) -> rewards.RewardSpec:
    return rewards.RewardSpec(
        weights=dict(setup.rewards.components),
        length_limit_tokens=setup.rewards.length_limit_tokens,
        format_name=setup.format.name,
        decision_inner=setup.format.decision_inner,
        max_output_chars=setup.env.max_output_chars,
    )


def build_runner(setup: RolloutSetup, model: torch.nn.Module, tokenizer: Any) -> EpisodeRunner:
    """An EpisodeRunner over an in-process model (used by workers and by in-process evaluation).

    With `rollout.deterministic`, it turns this process's deterministic kernels on: every path to a runner
    (a Ray worker, an evaluation without workers) comes here before the model's first forward.
    """
    r = setup.rollout
    if r.deterministic:
        use_deterministic_kernels()
    renderer = ChatRenderer.for_format(tokenizer, setup.format)
    engine = HFEngine(model, tokenizer.pad_token_id, renderer.stop_token_ids, **dataclasses.asdict(r.hf))
    limits = Limits(
        max_turns=r.max_turns,
        max_new_tokens=r.max_new_tokens,
        max_total_tokens=r.max_total_tokens,
        max_output_chars=setup.env.max_output_chars,
        call_timeout_s=setup.env.call_timeout_s,
        max_searches=setup.env.max_searches,
    )
    return EpisodeRunner(engine, renderer, limits, reward_spec(setup))
