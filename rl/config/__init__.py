"""Typed run configuration: one config type per stage, loaded strictly from YAML.

    cfg = load_config("configs/smoke.yaml", ["rollout.num_workers=1", "trainer.max_steps=3"], stage="rl")

Unknown keys, keys of another stage, wrong types and bad enum values are errors that name the file, the line
and the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rl.config.loader import ConfigError, has_key_path, load_yaml_dataclass, to_dict
from rl.config.sections import (
    DataConfig,
    EnvConfig,
    FormatConfig,
    HFEngineConfig,
    LoggingConfig,
    LoraConfig,
    ModelConfig,
    PolicyConfig,
    RewardsConfig,
    RolloutConfig,
    SampledRolloutConfig,
)
from rl.config.stages import (
    STAGES,
    AlgorithmConfig,
    CheckpointConfig,
    EvalRunConfig,
    PPOConfig,
    RLRunConfig,
    SFTConfig,
    SFTRunConfig,
    TrainerConfig,
)

__all__ = [
    "STAGES", "AlgorithmConfig", "CheckpointConfig", "ConfigError", "DataConfig", "EnvConfig", "EvalRunConfig",
    "FormatConfig", "HFEngineConfig", "LoggingConfig", "LoraConfig", "ModelConfig", "PPOConfig", "PolicyConfig", "RLRunConfig",
    "RewardsConfig", "RolloutConfig", "SFTConfig", "SFTRunConfig", "SampledRolloutConfig", "TrainerConfig",
    "Stage", "load_config", "to_dict",
]

Stage = Literal["rl", "sft", "eval"]


def load_config(path: str | Path | None, overrides: list[str] = (), stage: Stage = "rl"):
    """Loads the config of one stage from YAML plus `key.path=value` overrides.

    Args:
        path: The YAML file (None: the stage's defaults).
        overrides: `key.path=value` strings, applied after the file.
        stage: "rl" (RLRunConfig), "sft" (SFTRunConfig) or "eval" (EvalRunConfig).

    Raises:
        ConfigError: naming the file (or override), the line and the key path; a key of another stage says
            which stage it belongs to.
    """
    if stage not in STAGES:
        raise ValueError(f"stage: {stage!r} is not one of {list(STAGES)}")

    def elsewhere(key_path: str) -> str | None:
        owners = [name for name, cls in STAGES.items() if name != stage and has_key_path(cls, key_path)]
        if not owners:
            return None
        return f"belongs to the {' and '.join(owners)} stage{'s' if len(owners) > 1 else ''}, not to {stage}"

    return load_yaml_dataclass(STAGES[stage], path, list(overrides), elsewhere)
