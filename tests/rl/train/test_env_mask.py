"""env_mask is honoured by the real TRL GRPO loss: tool tokens shape context but are never trained.

A contract test of TRL's private loss path on tiny-random (seconds): it runs in `make test-fast` too, so a TRL
upgrade that breaks the contract fails there first."""

import torch

PROMPT = [11, 12, 13, 14]
#            policy      tool     policy   tool (final segment)
COMPLETION_A = [101, 102, 103, 201, 202, 104, 105, 301, 302, 303]
MASK_A = [1, 1, 1, 0, 0, 1, 1, 0, 0, 0]
COMPLETION_B = [111, 112, 113, 211, 212, 114, 115, 311, 312, 313]


def _trainer(tmp_path, trajectories):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rl.checkpoint import load_policy
    from rl.train.bridge import ComponentReward

    model, tok = load_policy("tiny-random")

    def rollout_func(prompts, trainer):
        comp_a, comp_b = trajectories["a"], trajectories["b"]
        return {
            "prompt_ids": [PROMPT, PROMPT],
            "completion_ids": [comp_a, comp_b],
            "logprobs": [[0.0] * len(comp_a), [0.0] * len(comp_b)],
            "env_mask": [MASK_A, MASK_A],
            "reward_ast": [1.0, 0.0],  # different rewards: non-zero advantages
        }

    args = GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2, max_steps=1, use_cpu=True,
        report_to=[], beta=0.0, loss_type="dapo", remove_unused_columns=False, logging_steps=1,
    )
    trainer = GRPOTrainer(
        model=model, processing_class=tok, reward_funcs=[ComponentReward("ast")], args=args,
        train_dataset=Dataset.from_list([{"prompt": "t1"}] * 4), rollout_func=rollout_func,
    )
    return trainer


def _loss_grad(trainer) -> torch.Tensor:
    """The gradient of TRL's GRPO loss on one batch, flattened.

    On-policy the loss *value* is the same for any tokens (the ratio is exp(logp - logp.detach()) = 1);
    what a token contributes shows in the gradient.
    """
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we call the loss directly
    trainer.model.zero_grad()
    batch = trainer._generate_and_score_completions([{"prompt": "t1"}, {"prompt": "t1"}])
    trainer.compute_loss(trainer.model, batch).backward()
    return torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])


def test_loss_ignores_final_tool_tokens_but_not_policy_or_earlier_tool_tokens(tmp_path):
    traj = {"a": list(COMPLETION_A), "b": list(COMPLETION_B)}
    trainer = _trainer(tmp_path, traj)
    base = _loss_grad(trainer)
    assert base.abs().sum() > 0  # advantages are non-zero, so the loss has policy terms

    traj["a"] = COMPLETION_A[:7] + [401, 402, 403]  # change the final tool-result tokens only
    assert torch.equal(_loss_grad(trainer), base)

    traj["a"] = COMPLETION_A[:1] + [555] + COMPLETION_A[2:]  # change one policy token
    assert not torch.allclose(_loss_grad(trainer), base)

    traj["a"] = COMPLETION_A[:3] + [777] + COMPLETION_A[4:]  # change an earlier tool token: later policy tokens see it
    assert not torch.allclose(_loss_grad(trainer), base)
