"""Config sections shared by several stages. Each stage's root type (rl/config/stages.py) picks the sections
it reads; a key that no section of that stage has is an error.

Cross-field checks live in each section's `__post_init__` and raise `ValueError("key: reason")`, which the
loader turns into an error naming the file, the line and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rewards import COMPONENTS


@dataclass
class LoraConfig:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"
    # Adapt only the last N decoder layers (null: all). Nothing below them needs a gradient, so backward
    # stops there: one SmolLM2-135M forward+backward over 4x450 tokens took 5.2 s with 12 of 30 layers
    # adapted against 8.4 s with all 30 (medians of 3, 2 threads, this CPU).
    top_layers: int | None = None

    def __post_init__(self) -> None:
        if self.r <= 0:
            raise ValueError(f"r: must be positive, got {self.r}")
        if self.top_layers is not None and self.top_layers <= 0:
            raise ValueError(f"top_layers: must be positive or null, got {self.top_layers}")


@dataclass
class PolicyConfig:
    """The policy to load. `name_or_path` is an alias (smollm2-135m, tiny-random), a toolgym checkpoint, a local
    HF directory or a hub id (see rl/checkpoint.py)."""

    name_or_path: str = "smollm2-135m"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    allow_download: bool = False  # let a hub id download (runs never touch the network unless asked)


@dataclass
class ModelConfig(PolicyConfig):
    """The policy of a training stage: what to load, and how it is adapted."""

    lora: LoraConfig | None = field(default_factory=LoraConfig)  # null: full fine-tuning
    gradient_checkpointing: bool = False


@dataclass
class FormatConfig:
    """The tool-call text protocol (see envs/formats.py)."""

    name: Literal["json", "pythonic", "decision", "native"] = "pythonic"
    placement: Literal["system", "tools_role"] = "system"
    tool_style: Literal["json", "compact"] = "json"
    decision_inner: Literal["json", "pythonic"] = "pythonic"
    # Another chat template for the tokenizer: a TRL template name (qwen3, llama3_1, ...) or a .jinja path. None: the
    # checkpoint's own.
    chat_template: str | None = None
    # The template's family (rl/rollout/templates.py): "auto" finds it by comparing with TRL's templates.
    template_family: str = "auto"

    def __post_init__(self) -> None:
        if self.name == "native" and self.placement != "system":
            raise ValueError("placement: the native format places tools through the chat template; use placement: system")


@dataclass
class DataConfig:
    """Where tasks come from (rl/data.py owns the split rule).

    `generate` draws from envs.tasks (train and test never share phrasings, entities or draws); `jsonl` reads
    Task rows, `train_path` for training and `eval_path` for the test split; `bfcl` reads BFCL v4, which is
    test data only.
    """

    source: Literal["generate", "jsonl", "bfcl"] = "generate"
    train_path: str | None = None
    eval_path: str | None = None
    train_size: int = 256
    eval_size: int = 64  # bfcl: split evenly over bfcl_categories
    seed: int = 0
    categories: list[str] | None = None  # generated round-robin: repeat a name to weight it
    domains: list[str] | None = None
    bfcl_categories: list[str] = field(default_factory=lambda: ["simple_python"])
    # Training split only: this share of the calling tasks is replaced by its needed-tools-removed variant with
    # a near-miss tool (envs.tasks.non_fc_variant), an abstaining task in BFCL's irrelevance shape.
    near_miss_ratio: float = 0.0
    # Keep each near miss's source task as well, right after it in the list: the same request once with the tool
    # it needs and once without, so what tells calling from abstaining apart is only whether a fitting tool is
    # offered. `algorithm.task_order: paired` then trains the two in the same step.
    near_miss_pairs: bool = False
    # golden: the prompt lists the task's tools; open: it offers only search_tools over the tool pool
    # (envs/open_world.py), and the same tasks are played that way.
    tools: Literal["golden", "open"] = "golden"

    def __post_init__(self) -> None:
        if self.source == "jsonl" and not (self.train_path or self.eval_path):
            raise ValueError("train_path: the jsonl source needs train_path (training) or eval_path (evaluation)")
        if self.train_size <= 0:
            raise ValueError(f"train_size: must be positive, got {self.train_size}")
        if self.eval_size <= 0:
            raise ValueError(f"eval_size: must be positive, got {self.eval_size}")
        if not 0.0 <= self.near_miss_ratio < 1.0:
            raise ValueError(f"near_miss_ratio: must be in [0, 1), got {self.near_miss_ratio}")
        if self.near_miss_pairs and self.near_miss_ratio == 0:
            raise ValueError("near_miss_pairs: pairs a near miss with its source task; set near_miss_ratio above 0")


@dataclass
class EnvConfig:
    max_output_chars: int = 1000
    call_timeout_s: float = 1.0
    max_searches: int = 3  # search_tools calls per episode in open mode (data.tools: open)

    def __post_init__(self) -> None:
        if self.max_searches < 1:
            raise ValueError("max_searches: must be at least 1")


@dataclass
class HFEngineConfig:
    """Tuning of the `hf` rollout engine (rl/rollout/engine.py documents each)."""

    reuse_kv: bool = True
    max_cached_tokens: int = 65536
    prune_fraction: float = 0.25
    max_padding: float = 0.1
    max_padding_tokens: int = 64
    max_chunk_tokens: int | None = None  # None: 1536 on CPU, 16384 on GPU
    min_shared_prefix: int = 32

    def __post_init__(self) -> None:
        if not 0.0 < self.prune_fraction <= 1.0:
            raise ValueError(f"prune_fraction: must be in (0, 1], got {self.prune_fraction}")


@dataclass
class RolloutConfig:
    """Ray rollout workers and the episode limits they enforce (greedy: evaluation)."""

    engine: Literal["hf"] = "hf"  # the Engine protocol (rl/rollout/engine.py) is where another plugs in
    hf: HFEngineConfig = field(default_factory=HFEngineConfig)
    num_workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    torch_threads: int = 1
    max_turns: int = 4  # assistant messages per user turn
    max_new_tokens: int = 128  # per assistant message
    max_total_tokens: int = 1024  # prompt + completion of the whole episode
    max_restarts: int = 2  # per worker, when an actor dies
    # Deterministic kernels wherever episodes are played (rl.rollout.setup.build_runner). A CPU's are
    # already; on a GPU, without them two plays of the same seeded episodes differ (README, "On a GPU").
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            raise ValueError(f"num_workers: must be at least 1, got {self.num_workers}")
        if self.max_new_tokens >= self.max_total_tokens:
            raise ValueError("max_new_tokens: must be smaller than max_total_tokens")


@dataclass
class SampledRolloutConfig(RolloutConfig):
    """Rollouts of a training stage: the workers sample."""

    temperature: float = 1.0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature <= 0:
            raise ValueError("temperature: must be positive (greedy decoding is for eval only)")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p: must be in (0, 1], got {self.top_p}")


@dataclass
class RewardsConfig:
    """Reward components and their weights. Nothing dispatches on task category."""

    components: dict[str, float] = field(default_factory=lambda: {"ast": 1.0})
    length_limit_tokens: int = 256  # the `length` component penalises episodes beyond this

    def __post_init__(self) -> None:
        if not self.components:
            raise ValueError("components: name at least one reward component")
        for name in self.components:
            if name not in COMPONENTS:
                raise ValueError(f"components: unknown component {name!r}; known: {list(COMPONENTS)}")


@dataclass
class LoggingConfig:
    report_to: Literal["wandb", "none"] = "wandb"
    project: str = "toolgym"
    run_name: str | None = None
