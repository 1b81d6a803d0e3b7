"""rl/train/lm_head.py: TRL's fused LM head over the labelled positions only gives the same log-probabilities,
entropies and (to float-summation order) gradients as over every position, and the switch ends with its block."""

import torch


def _fused_outputs(model, input_ids, labels):
    model.zero_grad()
    out = model(input_ids=input_ids, labels=labels, fused_lm_head=True)
    keep = labels[:, 1:] != -100  # TRL scores the label of the next token
    (out.log_probs[keep].sum() + out.entropy[keep].sum()).backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return out.log_probs.detach()[keep], out.entropy.detach()[keep], grads


def test_labelled_positions_only_matches_every_position_and_ends_with_its_block():
    import trl.trainer.utils as trl_utils
    from trl.trainer.utils import add_fused_lm_head

    from rl.checkpoint import load_policy
    from rl.train.lm_head import labelled_positions_only

    model, _ = load_policy("tiny-random")
    add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(10, 40000, (3, 64), generator=g)
    labels = input_ids.clone()
    labels[:, :48] = -100  # a prompt, then a completion
    labels[2, 60:] = -100  # and a shorter row, padded

    cpu = torch.device("cpu")
    assert not trl_utils._use_triton(cpu)  # TRL's own rule: every position on CPU
    every = _fused_outputs(model, input_ids, labels)
    with labelled_positions_only():
        assert trl_utils._use_triton(cpu)
        labelled = _fused_outputs(model, input_ids, labels)
    assert not trl_utils._use_triton(cpu)  # restored

    assert torch.equal(labelled[0], every[0]) and torch.equal(labelled[1], every[1])
    assert labelled[0].numel() == 16 + 16 + 12 and (labelled[0] < 0).all()
    torch.testing.assert_close(labelled[2], every[2], rtol=1e-4, atol=1e-5)
    assert every[2].abs().sum() > 0
