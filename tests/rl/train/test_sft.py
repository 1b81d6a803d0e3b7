"""rl/train/sft.py: an SFT config's adapter and batch settings reach the trainer."""

import pytest
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


def test_micro_batches_train_the_same_steps_as_whole_batches(tmp_path):
    """`sft.micro_batch_size` accumulates each step's gradient over micro-batches: the same examples per step and
    the same token-mean loss (TRL divides by the step's label count), so only the float sum order differs."""
    from launch.common import config_and_train_tasks
    from rl.train.sft import train_sft

    finals, losses = {}, {}
    for micro in (8, 2):
        cfg, tasks = config_and_train_tasks("configs/sft_smoke.yaml", [
            f"trainer.output_dir={tmp_path / str(micro)}", "logging.report_to=none", "sft.max_steps=3",
            "sft.batch_size=8", f"sft.micro_batch_size={micro}"], stage="sft")
        result = train_sft(cfg, tasks)
        assert result["steps"] == 3
        losses[micro] = result["train_loss"]  # a per-micro-batch mean would weigh the tokens otherwise
        finals[micro] = load_policy(result["final"])[0].state_dict()
    assert losses[2] == pytest.approx(losses[8], rel=1e-5)
    base = load_policy("tiny-random")[0].state_dict()
    for name, whole in finals[8].items():
        if name in base and not torch.equal(base[name], whole):  # trained: the same step both ways
            torch.testing.assert_close(finals[2][name], whole, rtol=1e-4, atol=1e-5, msg=name)
    assert sum(not torch.equal(base[n], finals[8][n]) for n in base) > 10
