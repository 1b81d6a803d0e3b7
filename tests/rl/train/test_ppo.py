"""PPO (rl/train/ppo.py): token rewards and GAE against a hand-computed example, and the losses' masks."""

import pytest
import torch

from envs.types import Episode, Step
from rl.rollout.episodes import Trajectory
from rl.train.ppo import gae, iteration_tasks, kl_penalty, message_spans, ppo_losses, token_rewards

#                 msg 1     tool     msg 2
ENV_MASK = [1, 1, 0, 0, 1, 1]
POLICY = torch.tensor([ENV_MASK], dtype=torch.float)


def _trajectory(env_tokens=(201, 202), execution=0.5, turn_scores=(1.0, 0.0), fmt=1.0) -> Trajectory:
    steps = [Step(turn=0, text="[f(x=1)]"), Step(turn=1, text="Done.")]
    return Trajectory(
        task_id="t", sample_index=0, prompt_ids=[1, 2], completion_ids=[11, 12, *env_tokens, 13, 14],
        env_mask=list(ENV_MASK), logprobs=[0.0] * 6, episode=Episode(task_id="t", steps=steps),
        rewards={"execution": execution, "format": fmt, "total": 2.0 * execution + 2.0 * fmt},
        turn_scores={"execution": list(turn_scores)},
    )


def test_iteration_tasks_slice_a_stratified_order_and_draw_the_same_shuffled_tasks_again():
    ids = [f"t{i}" for i in range(10)]
    assert iteration_tasks(ids, 0, 4, "stratified", seed=0) == ["t0", "t1", "t2", "t3"]
    assert iteration_tasks(ids, 2, 4, "stratified", seed=0) == ["t8", "t9", "t0", "t1"]  # wraps around
    assert iteration_tasks(ids, 2, 4, "paired", seed=0) == ["t8", "t9", "t0", "t1"]  # an order of rl.data as well
    drawn = iteration_tasks(ids, 3, 4, "shuffled", seed=0)
    assert len(set(drawn)) == 4 and drawn == iteration_tasks(ids, 3, 4, "shuffled", seed=0)  # a resume replays it


def test_message_spans_are_the_runs_of_policy_tokens():
    assert message_spans(ENV_MASK) == [(0, 1), (4, 5)]
    assert message_spans([0, 1, 1, 0, 1]) == [(1, 2), (4, 4)]
    assert message_spans([0, 0]) == []


def test_turn_level_reward_lands_on_its_turn_and_episode_level_on_the_last_token():
    tr = _trajectory()
    r = token_rewards(tr, {"execution": 2.0, "format": 2.0}, turn_level=["execution"], num_turns=2)
    # execution 0.5 earned all in turn 0 (turn scores 1 and 0): 2.0 * 0.5 on turn 0's last policy token;
    # format, episode-level: 2.0 * 1.0 on the episode's last policy token.
    assert r == [0.0, 1.0, 0.0, 0.0, 0.0, 2.0]
    assert sum(r) == pytest.approx(tr.rewards["total"])
    # the same component, episode-level: all of it on the last token
    assert token_rewards(tr, {"execution": 2.0, "format": 2.0}, turn_level=[], num_turns=2) == [0, 0, 0, 0, 0, 3.0]


def test_gae_equals_the_hand_computed_example_and_ignores_environment_tokens():
    gamma, lam, beta = 0.9, 0.8, 0.5
    rewards = torch.tensor([token_rewards(_trajectory(), {"execution": 2.0, "format": 2.0}, ["execution"], 2)])
    logps = torch.tensor([[-1.0, -2.0, -5.0, -5.0, -3.0, -4.0]])
    ref = torch.tensor([[-1.1, -2.2, -9.0, -9.0, -3.3, -4.4]])
    kl = kl_penalty(logps, ref, "k1") * POLICY  # [0.1, 0.2, -, -, 0.3, 0.4]
    values = torch.tensor([[0.5, 0.6, 9.0, 9.0, 0.7, 0.8]])
    adv, ret = gae(rewards - beta * kl, values, POLICY, gamma, lam)
    # By hand, over the policy tokens 0, 1, 4, 5 (rewards -0.05, 0.9, -0.15, 1.8; values 0.5, 0.6, 0.7, 0.8):
    #   d5 = 1.8 - 0.8 = 1.0                      A5 = 1.0
    #   d4 = -0.15 + 0.9 * 0.8 - 0.7 = -0.13      A4 = -0.13 + 0.72 * 1.0 = 0.59
    #   d1 = 0.9 + 0.9 * 0.7 - 0.6 = 0.93         A1 = 0.93 + 0.72 * 0.59 = 1.3548
    #   d0 = -0.05 + 0.9 * 0.6 - 0.5 = -0.01      A0 = -0.01 + 0.72 * 1.3548 = 0.965456
    want = torch.tensor([[0.965456, 1.3548, 0.0, 0.0, 0.59, 1.0]])
    torch.testing.assert_close(adv, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(ret, (want + values) * POLICY, atol=1e-5, rtol=0)

    # Other tool tokens, other values, log-probs and rewards on the tool tokens: nothing changes.
    rewards2 = torch.tensor([token_rewards(_trajectory(env_tokens=(777, 778, 779)[:2]), {"execution": 2.0, "format": 2.0},
                                           ["execution"], 2)])
    noise = torch.tensor([[0.0, 0.0, 3.0, -7.0, 0.0, 0.0]])
    kl2 = kl_penalty(logps + noise, ref - noise, "k1") * POLICY
    adv2, ret2 = gae(rewards2 + noise - beta * kl2, values + noise, POLICY, gamma, lam)
    assert torch.equal(adv2, adv) and torch.equal(ret2, ret)


def test_k3_is_non_negative_and_zero_at_equal_policies():
    logps, ref = torch.tensor([[-1.0, -2.0, -0.5]]), torch.tensor([[-1.5, -2.0, -0.1]])
    k3 = kl_penalty(logps, ref, "k3")
    assert (k3 >= 0).all() and k3[0, 1] == 0


def _loss_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    shape = (2, 6)
    t = {k: torch.randn(shape, generator=g) for k in ("logps", "old_logps", "advantages", "values", "old_values", "returns")}
    t["logps"] = t["old_logps"] + 0.3 * torch.randn(shape, generator=g)  # some ratios outside the clip range
    return t


def test_losses_take_no_term_from_environment_tokens():
    mask = torch.tensor([ENV_MASK, [1, 0, 1, 1, 0, 1]])
    base = _loss_inputs(0)
    g = torch.Generator().manual_seed(7)
    perturbed = {k: torch.where(mask.bool(), v, v + 100.0 * torch.randn(v.shape, generator=g)) for k, v in base.items()}
    a = ppo_losses(**base, mask=mask, clip=0.2, value_clip=0.2)
    b = ppo_losses(**perturbed, mask=mask, clip=0.2, value_clip=0.2)
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert a["clipped"] > 0 and a["value"] > 0  # the example exercises the clipped branches
    # ... and a policy token does count:
    moved = dict(base, advantages=base["advantages"] + torch.tensor([[1.0, 0, 0, 0, 0, 0], [0] * 6]))
    assert not torch.equal(ppo_losses(**moved, mask=mask, clip=0.2, value_clip=0.2)["policy"], a["policy"])


def test_policy_and_value_gradients_reach_policy_tokens_only():
    mask = torch.tensor([ENV_MASK])
    base = {k: v[:1] for k, v in _loss_inputs(1).items()}
    logps = base.pop("logps").requires_grad_()
    values = base.pop("values").requires_grad_()
    out = ppo_losses(logps=logps, values=values, **base, mask=mask, clip=0.2, value_clip=0.2)
    (out["policy"] + out["value"]).backward()
    env = ~mask.bool()
    assert (logps.grad[env] == 0).all() and (values.grad[env] == 0).all()
    assert logps.grad[mask.bool()].abs().sum() > 0 and values.grad[mask.bool()].abs().sum() > 0


def test_value_clip_holds_the_value_within_its_range_and_a_wide_one_leaves_the_loss_unclipped():
    mask = torch.ones(1, 3)
    zeros = torch.zeros(1, 3)
    values = torch.tensor([[0.1, 0.5, 1.0]], requires_grad=True)  # moved 0.1, 0.5, 1.0 from old values of 0
    returns = torch.full((1, 3), 2.0)
    common = dict(logps=zeros, old_logps=zeros, advantages=zeros, old_values=zeros, returns=returns, mask=mask, clip=0.2)
    clipped = ppo_losses(values=values, value_clip=0.2, **common)
    clipped["value"].backward()
    # Past the clip, the clipped term (0.5 * (0.2 - 2)^2) is the larger: no gradient pulls the value on to the return.
    assert values.grad[0].tolist() == pytest.approx([-1.9, 0.0, 0.0])
    assert float(clipped["value_clipped"]) == 2
    values.grad = None
    wide = ppo_losses(values=values, value_clip=100.0, **common)  # the demo's: wider than any return here
    wide["value"].backward()
    assert wide["value"].item() == pytest.approx(0.5 * (1.9**2 + 1.5**2 + 1.0**2))
    assert values.grad[0].tolist() == pytest.approx([-1.9, -1.5, -1.0])
    assert float(wide["value_clipped"]) == 0


# ---------------------------------------------------------------------------------------------------
# End to end on a local Ray (the SFT smoke model comes from conftest.py)
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ppo_run(sft_model, ray_head, tmp_path_factory):
    from runs import ENV, run, summary

    out = tmp_path_factory.mktemp("ppo")
    return out, summary(run(["launch/train.py", "--config", "configs/ppo_smoke.yaml", f"model.name_or_path={sft_model}",
                             f"trainer.output_dir={out}"], env=ray_head.joined(ENV)).stdout)


@pytest.mark.integration
@pytest.mark.slow
def test_ppo_smoke_trains_policy_and_critic_on_policy_and_logs_everything(ppo_run, sft_model):
    from safetensors.torch import load_file

    from rl.checkpoint import load_policy, read_manifest
    from rl.config import load_config

    from runs import metrics

    out, result = ppo_run
    cfg = load_config("configs/ppo_smoke.yaml")
    assert result["algorithm"] == "ppo" and result["steps"] == cfg.trainer.max_steps == 4
    assert result["worker_versions"] == [4] * cfg.rollout.num_workers  # the workers hold the trainer's last step
    final = out / "final"
    policy, critic = load_file(final / "adapter_model.safetensors"), load_file(final / "critic" / "adapter_model.safetensors")
    head = load_file(final / "critic" / "value_head.safetensors")
    for adapter in (policy, critic):  # LoRA B starts at zero: any non-zero B was learned
        assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)
    assert head["weight"].abs().sum() > 0  # the value head starts at zero too
    assert read_manifest(final)["stage"] == "ppo"
    load_policy(str(final))  # the policy reloads through the one reader
    rows = metrics(out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    rollout_rows = [r for r in rows if "reward" in r]
    assert [r["step"] for r in rollout_rows] == [1, 3]  # one rollout per iteration of 2 optimizer steps
    for comp in cfg.rewards.components:
        assert all(f"rewards/{comp}/mean" in r for r in rollout_rows), comp
    for key in ("ppo/value_loss", "ppo/policy_loss", "ppo/clip_fraction", "ppo/approx_kl", "ppo/entropy"):
        assert all(key in r for r in rows), key
    assert all("ppo/explained_variance" in r and "ppo/kl_ref" in r for r in rollout_rows)
    assert rows[1]["ppo/approx_kl"] > 0  # the second epoch of an iteration runs on updated weights
    assert rollout_rows[1]["ppo/kl_ref"] != 0  # after an iteration the policy has left the reference
    for ckpt in ("checkpoint-2", "checkpoint-4"):
        assert (out / ckpt / "critic" / "value_head.safetensors").is_file() and (out / ckpt / "optimizer.pt").is_file()


@pytest.mark.integration
@pytest.mark.slow
def test_two_learners_zero2_match_one_learner_then_resume_repeats_no_step_and_restores_the_critic(ppo_run, sft_model, ray_head,
                                                                                                    tmp_path):
    """Two learners under ZeRO-2, killed after their first checkpoint and resumed: one run checks both that
    sharding the learner changes no loss and that a ZeRO-2 resume restores the policy, critic and optimizer."""
    from runs import ENV, metrics, run, run_until, summary

    one_learner, _ = ppo_run
    want = {r["step"]: r for r in metrics(one_learner)}
    out = tmp_path / "zero2"
    args = ["launch/train.py", "--config", "configs/ppo_smoke.yaml", f"model.name_or_path={sft_model}",
            f"trainer.output_dir={out}", "trainer.num_learners=2", "trainer.deepspeed=configs/deepspeed/zero2.json"]
    run_until(args, out / "checkpoint-2" / "trainer_state.json")  # on a local Ray of its own, killed with it
    assert max(r["step"] for r in metrics(out)) < 4
    # Same rollouts (seeded by step, task and sample, not by sharding) and the same weights: the same losses.
    first = metrics(out)[0]
    assert first["reward"] == pytest.approx(want[1]["reward"], abs=1e-6)
    for key in ("ppo/policy_loss", "ppo/value_loss", "loss"):
        assert first[key] == pytest.approx(want[1][key], abs=1e-5), key
    result = summary(run([*args, "--resume"], env=ray_head.joined(ENV)).stdout)
    rows = metrics(out)
    assert result["steps"] == 4 and [r["step"] for r in rows] == [1, 2, 3, 4]  # none lost, none repeated
    assert result["worker_versions"] == [4, 4]
    # The first step after resuming trains the restored critic on the same episodes as the uninterrupted run.
    assert rows[2]["reward"] == pytest.approx(want[3]["reward"], abs=1e-6)
    assert rows[2]["ppo/value_loss"] == pytest.approx(want[3]["ppo/value_loss"], rel=1e-4)
    assert rows[2]["ppo/explained_variance"] == pytest.approx(want[3]["ppo/explained_variance"], abs=1e-4)
