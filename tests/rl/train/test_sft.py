"""rl/train/sft.py: an SFT config's adapter settings reach the trainer."""

import torch

from rl.checkpoint import load_policy

from runs import run, summary


def test_sft_with_lora_on_the_top_layers_changes_only_those_layers(tmp_path):
    out = tmp_path / "sft"
    result = summary(run(["launch/sft.py", "--config", "configs/sft_smoke.yaml", f"trainer.output_dir={out}",
                          "model.lora.r=4", "model.lora.alpha=8", "model.lora.top_layers=1", "sft.max_steps=2",
                          "sft.learning_rate=0.1"]).stdout)
    base, _ = load_policy("tiny-random")
    tuned, _ = load_policy(result["final"])  # the adapter merged into the weights
    before, after = base.state_dict(), tuned.state_dict()
    changed = {name.split(".layers.")[1].split(".")[0] for name in before
               if ".layers." in name and not torch.equal(before[name], after[name])}
    assert changed == {"1"}  # tiny-random has 2 layers: the top one only
