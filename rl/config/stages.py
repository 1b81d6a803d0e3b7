"""One config type per stage, built from the shared sections, plus the sections only one stage reads.

    rl    launch/grpo.py    model, format, data, env, rollout (sampled), rewards, algorithm, ppo, trainer, logging,
                            eval (greedy evaluation during training)
    sft   launch/sft.py     model, format, data, sft, trainer (single process), logging
    eval  launch/eval.py    model (no adapter), format, data, env, rollout (greedy), rewards

A key that belongs to another stage (`algorithm` in an SFT config, `rollout.temperature` in an eval config)
is an error that names the file, the line, the key and the stage it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rl.config.sections import (
    DataConfig,
    EnvConfig,
    FormatConfig,
    LoggingConfig,
    ModelConfig,
    PolicyConfig,
    RewardsConfig,
    RolloutConfig,
    SampledRolloutConfig,
)

# ---------------------------------------------------------------------------------------------------
# Sections of one stage
# ---------------------------------------------------------------------------------------------------


@dataclass
class AlgorithmConfig:
    """The RL objective. `grpo`: TRL's GRPOTrainer owns the loss (these keys are passed to its GRPOConfig);
    `ppo`: rl/train/ppo.py, with the `ppo` section. Both read learning_rate, epsilon (the clip range), beta (the
    KL coefficient), prompts_per_step, num_generations, max_grad_norm and warmup_steps."""

    name: Literal["grpo", "ppo"] = "grpo"
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    beta: float = 0.0
    epsilon: float = 0.2
    num_generations: int = 4
    prompts_per_step: int = 4  # distinct tasks per optimizer step
    learning_rate: float = 1e-5
    scale_rewards: Literal["group", "batch", "none"] = "group"
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = "sum_then_normalize"
    max_grad_norm: float = 1.0
    warmup_steps: int = 0
    # The learner leaves out rows whose advantage is 0 (groups with no reward spread): the same gradient, less
    # learner time. Exact only where such a row adds nothing to the loss: loss_type dapo, beta 0.
    skip_flat_groups: bool = False
    # Which tasks a step plays. "shuffled": a random draw (TRL's sampler under GRPO, a seeded draw per iteration
    # under PPO). "stratified": the categories dealt in turn (rl.data.stratified_order), so every run of
    # len(categories) tasks holds each category once, where the demo's draw put 0 to 4 abstaining tasks in a step
    # of 8. In the demo's 8 steps it did not keep the model abstaining (README, Results). "paired": a seeded
    # shuffle that keeps each near miss beside its source task (rl.data.paired_order, `data.near_miss_pairs`).
    task_order: Literal["shuffled", "stratified", "paired"] = "shuffled"
    # One-step-off-policy GRPO (rl/train/grpo.py): the workers play step s+1's episodes while the learner trains
    # on step s's, so every step after the first learns from episodes of the weights one update old, importance-
    # weighted by pi_current / pi_sampling and clipped by `epsilon`.
    async_rollouts: bool = False

    def __post_init__(self) -> None:
        if self.name == "grpo" and self.num_generations < 2:
            raise ValueError("num_generations: GRPO needs at least 2 generations per prompt")
        if self.num_generations < 1:
            raise ValueError("num_generations: must be at least 1")
        if self.beta < 0:
            raise ValueError("beta: must be >= 0")
        if self.skip_flat_groups and (self.loss_type != "dapo" or self.beta != 0):
            raise ValueError("skip_flat_groups: exact only with loss_type dapo and beta 0 (other losses weigh "
                             "a micro-batch by its own rows, and the KL term is not 0 on flat rows)")
        if self.name == "ppo":
            for key, default in GRPO_ONLY.items():
                if getattr(self, key) != default:
                    raise ValueError(f"{key}: read by GRPO only (algorithm.name is ppo)")


GRPO_ONLY = {"loss_type": "dapo", "scale_rewards": "group", "multi_objective_aggregation": "sum_then_normalize",
             "skip_flat_groups": False, "async_rollouts": False}


@dataclass
class PPOConfig:
    """PPO's own settings (rl/train/ppo.py), read when algorithm.name is ppo.

    One PPO iteration is one rollout batch followed by `ppo_epochs` passes over it, each in `mini_batches`
    optimizer steps; trainer.max_steps and trainer.save_steps count optimizer steps.
    """

    gamma: float = 1.0  # discount per policy token (environment tokens are stepped over)
    lam: float = 0.95  # GAE lambda
    ppo_epochs: int = 2
    mini_batches: int = 1  # optimizer steps per epoch
    value_clip: float = 0.2
    vf_coef: float = 0.5
    critic_learning_rate: float | None = None  # None: algorithm.learning_rate
    kl_estimator: Literal["k1", "k3"] = "k1"  # per-token KL to the starting policy, weighted by algorithm.beta
    whiten_advantages: bool = True
    # Components credited at the turn that earned them (their per-turn scores); the rest at the episode's end.
    turn_level: list[str] = field(default_factory=lambda: ["ast", "execution", "relevance"])

    def __post_init__(self) -> None:
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError("gamma: gamma and lam must be in [0, 1]")
        if self.ppo_epochs < 1 or self.mini_batches < 1:
            raise ValueError("ppo_epochs: ppo_epochs and mini_batches must be at least 1")
        unknown = sorted(set(self.turn_level) - {"ast", "execution", "relevance"})
        if unknown:
            raise ValueError(f"turn_level: {unknown} have no per-turn scores (ast, execution, relevance do)")

    @property
    def steps_per_iteration(self) -> int:
        return self.ppo_epochs * self.mini_batches


@dataclass
class CheckpointConfig:
    """Where a training stage writes, and how often it saves."""

    output_dir: str = "runs/default"
    save_steps: int = 5
    save_total_limit: int = 2
    seed: int = 0
    use_gpu: bool = False
    bf16: bool = False

    def __post_init__(self) -> None:
        if self.save_steps < 1:
            raise ValueError(f"save_steps: must be at least 1, got {self.save_steps}")


@dataclass
class TrainerConfig(CheckpointConfig):
    """The RL learner processes: Ray Train workers, DeepSpeed, checkpoints."""

    max_steps: int = 10
    num_learners: int = 1
    gradient_accumulation_steps: int = 1  # micro-batches per optimizer step (rollouts stay on-policy)
    cpus_per_learner: float = 1.0
    torch_threads: int = 0  # per learner process; 0: the machine's cores shared among the learners
    deepspeed: str | None = None  # path to a DeepSpeed JSON (configs/deepspeed/zero2.json)
    logging_steps: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_steps < 1:
            raise ValueError("max_steps: must be at least 1")
        if self.num_learners < 1:
            raise ValueError("num_learners: must be at least 1")
        if self.torch_threads < 0:
            raise ValueError(f"torch_threads: must be >= 0, got {self.torch_threads}")
        if self.deepspeed is not None and not Path(self.deepspeed).is_file():
            raise ValueError(f"deepspeed: no such file {self.deepspeed!r}")


EVAL_METRICS = {"toolgym": ("reward", "ast_valid", "exec_valid"), "bfcl": ("valid", "reward")}


@dataclass
class TrainingEvalConfig:
    """Greedy evaluation during an RL run, on the rollout workers with the step's weights (rl/train/bridge.py).

    Each entry of `tasks` is "toolgym" (the held-out split of the run's data section) or a BFCL category; each
    gets `n` tasks and logs `eval/<entry>/<metric>`. The checkpoint of the step with the highest
    `eval/<metric>` is kept (saved at that step if save_steps would not) and named in the run's summary. The
    episodes use the run's rollout limits, tool mode and reward weights: `reward` is the training reward on
    held-out tasks. (launch/eval.py judges BFCL's single-turn categories on the first message alone; here a
    turn may run to `rollout.max_turns` messages, and every call of the turn counts.)
    """

    every_n_steps: int = 0  # 0: no evaluation during training
    tasks: list[str] = field(default_factory=lambda: ["toolgym"])
    n: int = 32
    metric: str = "toolgym/reward"

    def __post_init__(self) -> None:
        from rl.eval.bfcl_score import ALL_CATEGORIES, MEMORY, NOT_RUN

        if self.every_n_steps < 0 or self.n < 1:
            raise ValueError("every_n_steps: every_n_steps must be >= 0 and n >= 1")
        # Memory questions start from the memory of prerequisite conversations, which only launch/eval.py plays.
        runnable = [c for c in ALL_CATEGORIES if c not in NOT_RUN and c not in MEMORY]
        bad = [t for t in self.tasks if t != "toolgym" and t not in runnable]
        if bad or not self.tasks:
            raise ValueError(f"tasks: {bad or 'none given'}; each is 'toolgym' or a BFCL category that runs here "
                             f"({', '.join(runnable)})")
        entry, _, name = self.metric.partition("/")
        allowed = EVAL_METRICS["toolgym" if entry == "toolgym" else "bfcl"]
        if entry not in self.tasks or name not in allowed:
            raise ValueError(f"metric: {self.metric!r} is not one of "
                             f"{[f'{t}/{m}' for t in self.tasks for m in EVAL_METRICS['toolgym' if t == 'toolgym' else 'bfcl']]}")


@dataclass
class RLLoggingConfig(LoggingConfig):
    rollout_table_every: int = 5  # steps between W&B rollout tables


@dataclass
class SFTConfig:
    """Supervised warm-up recipes (launch/sft.py)."""

    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    warmup_steps: int = 0
    learning_rate: float = 2e-4
    batch_size: int = 8  # examples per optimizer step
    # Examples per forward and backward (None: batch_size); each step accumulates the gradient over
    # batch_size / micro_batch_size of them, for a machine with less memory: the activations scale with it. The
    # optimizer sees the same batches (HF's length-grouped sampler groups by the whole step) and the same
    # token-mean loss (TRL divides by the step's label count), summed in another order. Smaller matmuls cost
    # compute (README, Results: Fresh memory).
    micro_batch_size: int | None = None
    max_length: int = 512
    non_fc_ratio: float = 0.0  # share of synthetic "no fitting tool" examples
    # Where removing the needed tools leaves none, offer one unneeded tool of the task's domain instead
    # (BFCL's irrelevance shape: one near-topic function).
    non_fc_near_miss: bool = False
    reasoning: bool = False  # a short rationale before the calls (CoT variant)
    chat_mix_path: str | None = None  # general chat JSONL blended in (instruction following)
    chat_mix_ratio: float = 0.0

    @property
    def accumulation_steps(self) -> int:
        """Micro-batches per optimizer step."""
        return self.batch_size // (self.micro_batch_size or self.batch_size)

    def __post_init__(self) -> None:
        if self.micro_batch_size is not None and not (0 < self.micro_batch_size <= self.batch_size
                                                      and self.batch_size % self.micro_batch_size == 0):
            raise ValueError(f"micro_batch_size: {self.micro_batch_size} must divide batch_size ({self.batch_size})")
        for name in ("non_fc_ratio", "chat_mix_ratio"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}: must be in [0, 1)")
        if self.chat_mix_ratio > 0 and not self.chat_mix_path:
            raise ValueError("chat_mix_path: required when chat_mix_ratio > 0")


# ---------------------------------------------------------------------------------------------------
# Stage roots
# ---------------------------------------------------------------------------------------------------


def _check_decision_reward(rewards: RewardsConfig, fmt: FormatConfig) -> None:
    if "decision" in rewards.components and fmt.name != "decision":
        raise ValueError("rewards: the 'decision' component needs format.name: decision")


@dataclass
class RLRunConfig:
    """An RL run (launch/grpo.py). Every section has defaults; a YAML file overrides what it names."""

    model: ModelConfig = field(default_factory=ModelConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    data: DataConfig = field(default_factory=DataConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    rollout: SampledRolloutConfig = field(default_factory=SampledRolloutConfig)
    rewards: RewardsConfig = field(default_factory=RewardsConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logging: RLLoggingConfig = field(default_factory=RLLoggingConfig)
    eval: TrainingEvalConfig = field(default_factory=TrainingEvalConfig)

    def __post_init__(self) -> None:
        _check_decision_reward(self.rewards, self.format)
        global_batch = self.algorithm.prompts_per_step * self.algorithm.num_generations
        ppo = self.algorithm.name == "ppo"
        shards = self.trainer.num_learners * self.trainer.gradient_accumulation_steps * (self.ppo.mini_batches if ppo else 1)
        if global_batch % shards:
            raise ValueError(
                f"trainer: num_learners * gradient_accumulation_steps{' * ppo.mini_batches' if ppo else ''} = {shards} "
                f"must divide prompts_per_step * num_generations = {global_batch}"
            )
        if (self.algorithm.task_order == "paired") != self.data.near_miss_pairs:
            raise ValueError("task_order: 'paired' goes with data.near_miss_pairs: true (each near miss beside its "
                             "source task), and near_miss_pairs with task_order 'paired'")
        if not ppo and self.ppo != PPOConfig():
            raise ValueError("ppo: read only when algorithm.name is ppo")
        k = self.ppo.steps_per_iteration
        if ppo and self.eval.every_n_steps % k:
            raise ValueError(f"eval: every_n_steps must be a multiple of ppo_epochs * mini_batches = {k}: the workers "
                             "get new weights once per PPO iteration")
        if ppo and (self.trainer.max_steps % k or self.trainer.save_steps % k):
            raise ValueError(f"trainer: max_steps and save_steps count optimizer steps; with PPO they must be "
                             f"multiples of ppo_epochs * mini_batches = {k} (a whole iteration)")


@dataclass
class SFTRunConfig:
    """A supervised warm-up (launch/sft.py): one process, TRL's SFTTrainer."""

    model: ModelConfig = field(default_factory=ModelConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    data: DataConfig = field(default_factory=DataConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    trainer: CheckpointConfig = field(default_factory=CheckpointConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)


@dataclass
class EvalRunConfig:
    """Greedy evaluation (launch/eval.py, the demo's evaluations). The model usually comes from --model."""

    model: PolicyConfig = field(default_factory=PolicyConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    data: DataConfig = field(default_factory=DataConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    rewards: RewardsConfig = field(default_factory=RewardsConfig)

    def __post_init__(self) -> None:
        _check_decision_reward(self.rewards, self.format)


STAGES: dict[str, type] = {"rl": RLRunConfig, "sft": SFTRunConfig, "eval": EvalRunConfig}
