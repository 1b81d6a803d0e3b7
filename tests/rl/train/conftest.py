"""The SFT smoke model every RL integration test starts from: `tiny-random` warmed up by configs/sft_smoke.yaml,
so that its samples differ in reward (a purely random model scores the same on every sample, which gives GRPO
no advantage and PPO no signal)."""

from pathlib import Path

import pytest

from runs import run, summary


@pytest.fixture(scope="session")
def sft_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sft")
    result = summary(run(["launch/sft.py", "--config", "configs/sft_smoke.yaml", f"trainer.output_dir={out}"]).stdout)
    assert result["steps"] > 0 and "rejected" in result["data_report"]
    return Path(result["final"])
