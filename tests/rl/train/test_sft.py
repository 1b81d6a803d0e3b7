"""SFT runs end to end (the smoke SFT itself is the `sft_model` fixture, checked in test_grpo.py)."""

import pytest
import torch
from runs import run, summary

from envs.formats import DECISION_TOKENS
from rl.checkpoint import load_policy
from rl.config import FormatConfig

pytestmark = pytest.mark.integration


def test_decision_sft_with_lora_trains_the_decision_token_rows_and_nothing_else_of_the_embedding(tmp_path):
    # LoRA leaves the embedding frozen, so the two new rows train through peft's trainable tokens. TRL's fused LM
    # head cannot see those (rl/train/sft.py, FullLogitsSFTTrainer): this run crashed, and would otherwise train the
    # rows only as inputs.
    result = summary(run(["launch/sft.py", "--config", "configs/sft_smoke.yaml", f"trainer.output_dir={tmp_path}",
                          "format.name=decision", "model.lora={r: 8, alpha: 16}", "sft.non_fc_ratio=0.3",
                          "data.train_size=16", "sft.epochs=1", "logging.report_to=none"]).stdout)
    assert result["steps"] > 0 and "non_fc=" in result["data_report"]
    init, tok = load_policy("tiny-random", fmt=FormatConfig(name="decision"))  # the seeded rows training started from
    trained, trained_tok = load_policy(result["final"])
    ids = tok.convert_tokens_to_ids(list(DECISION_TOKENS))
    assert trained_tok.convert_tokens_to_ids(list(DECISION_TOKENS)) == ids
    before, after = init.get_input_embeddings().weight, trained.get_input_embeddings().weight  # [V, H]
    assert not torch.allclose(after[ids], before[ids])
    others = torch.ones(len(before), dtype=torch.bool)
    others[ids] = False
    torch.testing.assert_close(after[others], before[others], rtol=0, atol=0)
    assert trained.get_output_embeddings().weight.data_ptr() == trained.get_input_embeddings().weight.data_ptr()
