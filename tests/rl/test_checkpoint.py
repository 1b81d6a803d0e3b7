"""The one checkpoint format: every stage's save reloads through `load_policy` with identical logits."""

import copy
import json

import pytest
import torch

from rl.checkpoint import MANIFEST, load_policy, read_manifest, save_checkpoint
from rl.config import FormatConfig, LoraConfig, load_config
from rl.models import ModelLoadError

X = torch.tensor([[1, 200, 3000, 45, 7]])


def _trained_lora():
    """tiny-random with a LoRA whose B is non-zero (as after training)."""
    model, tok = load_policy("tiny-random", lora=LoraConfig(r=4, alpha=8))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model.eval(), tok


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(X).logits


def test_sft_stage_save_merges_and_reloads_with_identical_logits(tmp_path):
    model, tok = _trained_lora()
    expected = _logits(copy.deepcopy(model).merge_and_unload())
    out = save_checkpoint(model, tok, tmp_path / "final", merge=True, stage="sft", step=17, base="tiny-random",
                          tool_format={"name": "pythonic"}, config={})
    manifest = read_manifest(out)
    assert manifest["weights"] == "full" and manifest["stage"] == "sft" and manifest["step"] == 17
    reloaded, tok2 = load_policy(str(out))
    assert torch.equal(_logits(reloaded), expected)
    assert tok2.chat_template == tok.chat_template


def test_grpo_stage_save_is_an_adapter_on_its_base_and_reloads_with_identical_logits(tmp_path):
    from transformers import Trainer, TrainingArguments

    from rl.train.run import save_final

    model, tok = _trained_lora()
    expected = _logits(copy.deepcopy(model).merge_and_unload())
    cfg = load_config(None, ["model.name_or_path=tiny-random", f"trainer.output_dir={tmp_path}"], stage="rl")
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]))
    out = save_final(trainer, tok, cfg)  # what the GRPO learner calls at the end of a run
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["weights"] == "adapter" and manifest["base"] == "tiny-random" and manifest["stage"] == "grpo"
    assert manifest["tool_format"]["name"] == cfg.format.name and manifest["config"]["algorithm"]["loss_type"] == "dapo"
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    reloaded, _ = load_policy(str(out))
    assert torch.equal(_logits(reloaded), expected)


def test_added_tokens_travel_with_the_checkpoint(tmp_path):
    # A llama3_1 template on SmolLM2's tokenizer adds that family's stop tokens (<|eot_id|>, <|eom_id|>).
    model, tok = load_policy("tiny-random", fmt=FormatConfig(chat_template="llama3_1"))
    assert "<|eot_id|>" in tok.get_added_vocab()
    out = save_checkpoint(model, tok, tmp_path / "c", merge=False, stage="sft", step=1, base="tiny-random",
                          tool_format={"name": "pythonic", "chat_template": "llama3_1"}, config={})
    assert "<|eot_id|>" in read_manifest(out)["added_tokens"]
    again, tok2 = load_policy(str(out))
    assert len(tok2) == len(tok) == again.get_input_embeddings().num_embeddings


def test_an_adapter_without_a_manifest_or_an_unknown_format_is_refused(tmp_path):
    model, tok = _trained_lora()
    model.save_pretrained(tmp_path / "bare")  # a PEFT adapter, but not a toolgym checkpoint: no base named
    with pytest.raises(ModelLoadError, match="without a toolgym_checkpoint.json"):
        load_policy(str(tmp_path / "bare"))
    (tmp_path / "bare" / MANIFEST).write_text(json.dumps({"format_version": 99, "weights": "adapter"}))
    with pytest.raises(ModelLoadError, match="unknown checkpoint format"):
        load_policy(str(tmp_path / "bare"))
