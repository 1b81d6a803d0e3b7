"""One-step-off-policy GRPO (rl/train/grpo.py): the sampling policy as TRL's old policy (so each token's ratio is
its importance weight, clipped as PPO clips), and the trainer pulling the next step's batch one step early."""

import math
import random

import pytest
import torch

from rl.train.grpo import ToolGRPOTrainer

from tiny_trainer import loss_gradient, tiny_grpo_trainer


def test_the_old_policy_is_the_sampling_policy_so_a_tokens_ratio_is_its_importance_weight(tmp_path):
    """Sampling log-probs equal to the learner's give the on-policy gradient; log-probs lower by d give every
    token the weight e^d inside PPO's clip range; beyond it, only the rows the clip leaves alone (negative
    advantages, for a ratio above 1 + epsilon) keep a gradient, still weighted e^d."""
    from rl.checkpoint import load_policy

    torch.manual_seed(0)
    rng = random.Random(1)
    model, tok = load_policy("tiny-random")
    rows = 8
    prompts = [[rng.randrange(10, 500) for _ in range(rng.randrange(4, 30))] for _ in range(rows // 2)]
    completions = [[rng.randrange(10, 500) for _ in range(rng.randrange(2, 20))] for _ in range(rows)]

    def rollout_func(batch_prompts, trainer):
        return {"prompt_ids": [prompts[i // 2] for i in range(rows)], "completion_ids": completions,
                "logprobs": [[0.0] * len(c) for c in completions], "env_mask": [[1] * len(c) for c in completions],
                "reward_ast": [0.0, 1.0, 2.0, 0.5, 1.0, 0.0, 1.0, 3.0]}

    trainer = tiny_grpo_trainer(tmp_path, model, tok, rollout_func)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 4
    trainer._step, trainer._buffered_inputs = 0, None
    trainer._prepare_inputs([{"prompt": f"t{i // 2}"} for i in range(rows)])
    on_policy_batches = [dict(mb) for mb in trainer._buffered_inputs]

    def sampled_by(d: float) -> list[dict]:
        """The micro-batches as if a policy d nats less likely on every token had sampled them."""
        out = []
        for mb in on_policy_batches:
            ids = torch.cat([mb["prompt_ids"], mb["completion_ids"]], 1)
            attention = torch.cat([mb["prompt_mask"], mb["completion_mask"]], 1)
            with torch.no_grad():
                own, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, attention, ids.size(1) - mb["prompt_ids"].size(1))
            out.append({**mb, "sampling_per_token_logps": own - d})
        trainer._learn_off_policy(out)
        return out

    def grad(batches, keep=lambda adv: adv) -> torch.Tensor:
        return loss_gradient(trainer, [{**mb, "advantages": keep(mb["advantages"])} for mb in batches])

    on_policy = grad(on_policy_batches)
    assert on_policy.abs().sum() > 0
    m = trainer._metrics["train"]
    torch.testing.assert_close(grad(sampled_by(0.0)), on_policy, rtol=1e-5, atol=1e-7)
    assert m["async/is_ratio_mean"][-1] == pytest.approx(1.0, abs=1e-9) and m["async/logp_gap_mean"][-1] < 1e-9
    torch.testing.assert_close(grad(sampled_by(0.1)), math.exp(0.1) * on_policy, rtol=1e-5, atol=1e-7)  # 1.105 < 1.2
    assert m["async/is_ratio_mean"][-1] == pytest.approx(math.exp(0.1)) and m["async/is_ratio_outside_clip_frac"][-1] == 0
    negative_rows = grad(on_policy_batches, keep=lambda adv: adv.clamp(max=0))
    torch.testing.assert_close(grad(sampled_by(1.0)), math.e * negative_rows, rtol=1e-5, atol=1e-7)  # e > 1.2
    assert m["async/is_ratio_outside_clip_frac"][-1] == 1


def test_the_next_steps_batch_is_pulled_one_step_early_and_none_at_the_epochs_end():
    trainer = ToolGRPOTrainer.__new__(ToolGRPOTrainer)  # get_batch_samples reads no trainer state but these
    trainer.off_policy, trainer._ahead = True, None
    step = lambda i: [[{"prompt": f"t{i}"}, {"prompt": f"t{i}"}]] * 2  # noqa: E731 (2 accumulation batches)
    epoch = iter([b for i in range(3) for b in step(i)])
    seen = []
    for _ in range(3):
        batches, _ = trainer.get_batch_samples(epoch, 2, torch.device("cpu"))
        seen.append((batches[0][0]["prompt"], trainer.upcoming_prompts()))
    assert seen == [("t0", ["t1", "t1"]), ("t1", ["t2", "t2"]), ("t2", None)]
    fresh = iter([b for i in range(3, 5) for b in step(i)])  # a new epoch: its first step is pulled then
    batches, _ = trainer.get_batch_samples(fresh, 2, torch.device("cpu"))
    assert batches[0][0]["prompt"] == "t3" and trainer.upcoming_prompts() == ["t4", "t4"]


def test_async_rollouts_are_grpo_only():
    from rl.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="async_rollouts: read by GRPO only"):
        load_config(None, ["algorithm.name=ppo", "algorithm.async_rollouts=true"])
