"""A ToolGRPOTrainer on tiny-random whose rollouts a test fixes, for tests that call its loss directly, and the
gradient of that loss over micro-batches."""

from pathlib import Path
from typing import Any

import torch


def tiny_grpo_trainer(tmp_path: Path, model: Any, tok: Any, rollout_func: Any, **kwargs: Any) -> Any:
    """Four prompts of 2 generations, 4 micro-batches of 2 rows, TRL's dapo loss without KL, in float32 as the
    learners run (GRPOConfig's default bf16=True turns on bf16 autocast on CPU too); `kwargs` go to
    ToolGRPOTrainer."""
    from datasets import Dataset
    from trl import GRPOConfig

    from rl.train.bridge import ComponentReward
    from rl.train.grpo import ToolGRPOTrainer

    args = GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=2, gradient_accumulation_steps=4, num_generations=2,
        max_steps=1, use_cpu=True, bf16=False, report_to=[], beta=0.0, loss_type="dapo", remove_unused_columns=False,
    )
    return ToolGRPOTrainer(
        model=model, processing_class=tok, reward_funcs=[ComponentReward("ast")], args=args,
        train_dataset=Dataset.from_list([{"prompt": f"t{i}"} for i in range(4)]), rollout_func=rollout_func,
        **kwargs,
    )


def loss_gradient(trainer: Any, micro_batches: list[dict]) -> torch.Tensor:
    """The flat gradient of TRL's loss summed over the micro-batches, from zeroed gradients."""
    trainer.model.zero_grad()
    for mb in micro_batches:
        trainer.compute_loss(trainer.model, mb).backward()
    return torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])
