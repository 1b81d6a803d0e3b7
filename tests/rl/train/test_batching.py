"""Length-grouped, unpadded micro-batches: fewer pad tokens, the same gradient as TRL's padded batch."""

import random

import torch

from rl.train.batching import informative_rows, length_grouped_microbatches, trim_padding

from tiny_trainer import loss_gradient, tiny_grpo_trainer

ROWS = 8  # 4 prompts x 2 generations


def _batch(prompt_lens, completion_lens, pad=0):
    """A TRL-style batch: prompts left-padded, completions right-padded, tool_mask padded with 1 as TRL does."""
    Tp, Tc = max(prompt_lens), max(completion_lens)
    p_ids = torch.full((len(prompt_lens), Tp), pad)
    p_mask = torch.zeros_like(p_ids)
    c_ids = torch.full((len(completion_lens), Tc), pad)
    c_mask = torch.zeros_like(c_ids)
    for i, (lp, lc) in enumerate(zip(prompt_lens, completion_lens, strict=True)):
        p_ids[i, Tp - lp :] = torch.arange(1, lp + 1)
        p_mask[i, Tp - lp :] = 1
        c_ids[i, :lc] = torch.arange(100, 100 + lc)
        c_mask[i, :lc] = 1
    return {
        "prompt_ids": p_ids, "prompt_mask": p_mask, "completion_ids": c_ids, "completion_mask": c_mask,
        "tool_mask": torch.ones_like(c_ids), "advantages": torch.arange(len(prompt_lens), dtype=torch.float),
        "num_items_in_batch": c_mask.sum(),
    }


def test_trim_padding_keeps_every_real_token_and_drops_all_pad_columns():
    b = _batch([3, 5], [2, 4])
    short = trim_padding({k: (v[:1] if isinstance(v, torch.Tensor) and v.ndim else v) for k, v in b.items()})
    assert short["prompt_ids"].tolist() == [[1, 2, 3]]
    assert short["completion_ids"].tolist() == [[100, 101]]
    assert short["tool_mask"].shape == (1, 2)
    assert short["num_items_in_batch"] is b["num_items_in_batch"]  # scalars pass through
    full = trim_padding(b)  # the longest rows use every column: nothing to drop
    assert full["prompt_ids"].shape == (2, 5) and full["completion_ids"].shape == (2, 4)


def test_microbatches_group_by_length_and_keep_every_row():
    prompt_lens = [30, 5, 30, 5, 12, 12, 40, 40]
    completion_lens = [3, 60, 4, 2, 10, 11, 50, 1]
    b = _batch(prompt_lens, completion_lens)
    mbs = length_grouped_microbatches(b, 4)
    assert [mb["prompt_ids"].shape[0] for mb in mbs] == [2] * 4
    # every row survives exactly once (advantages identify rows)
    assert sorted(torch.cat([mb["advantages"] for mb in mbs]).tolist()) == list(range(ROWS))
    # rows within a micro-batch are neighbours in real length
    lengths = [(mb["prompt_mask"].sum(1) + mb["completion_mask"].sum(1)).tolist() for mb in mbs]
    flat = [x for pair in lengths for x in pair]
    assert flat == sorted(flat, reverse=True)
    padded = ROWS * (b["prompt_ids"].shape[1] + b["completion_ids"].shape[1])
    grouped = sum(mb["prompt_ids"].numel() + mb["completion_ids"].numel() for mb in mbs)
    assert grouped < 0.6 * padded


def test_informative_rows_leave_out_zero_advantages_and_keep_one_row_per_microbatch():
    b = _batch([5, 9, 3, 7], [4, 2, 6, 1])
    b["advantages"] = torch.tensor([0.0, 0.5, 0.0, 0.0])
    kept, skipped = informative_rows(b, 1)
    assert kept["advantages"].tolist() == [0.5] and skipped == 3
    assert kept["num_items_in_batch"] is b["num_items_in_batch"]  # the dapo normaliser spans the whole step
    kept, skipped = informative_rows(b, 3)  # the two shortest flat rows (8 and 9 real tokens) fill up
    assert kept["prompt_ids"][:, -1].tolist() == [5, 9, 7] and skipped == 1
    assert [len(mb["advantages"]) for mb in length_grouped_microbatches(kept, 2)] == [2, 1]


def test_microbatch_gradient_equals_padded_full_batch_gradient(tmp_path):
    """TRL's loss on the padded batch and the sum over our unpadded micro-batches give the same gradient, with or
    without the rows of flat groups."""
    from trl.trainer.utils import split_tensor_dict

    from rl.checkpoint import load_policy

    torch.manual_seed(0)
    rng = random.Random(0)
    model, tok = load_policy("tiny-random")
    prompts = [[rng.randrange(10, 500) for _ in range(rng.randrange(4, 40))] for _ in range(ROWS // 2)]
    completions = [[rng.randrange(10, 500) for _ in range(rng.randrange(2, 30))] for _ in range(ROWS)]

    def rollout_func(batch_prompts, trainer):
        return {
            "prompt_ids": [prompts[i // 2] for i in range(ROWS)],
            "completion_ids": completions,
            "logprobs": [[0.0] * len(c) for c in completions],
            "env_mask": [[1] * len(c) for c in completions],
            "reward_ast": [0.0, 1.0, 2.0, 2.0, 1.0, 0.0, 1.0, 1.0],  # groups of 2: the second and fourth are flat
        }

    trainer = tiny_grpo_trainer(tmp_path, model, tok, rollout_func)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 4  # set by Trainer.train(); we call the loss directly
    batch = trainer._generate_and_score_completions([{"prompt": f"t{i // 2}"} for i in range(ROWS)])

    # TRL's own path: the padded batch split (unsorted) into 4 micro-batches of the full width
    reference = loss_gradient(trainer, split_tensor_dict(batch, 4))
    ours = loss_gradient(trainer, length_grouped_microbatches(batch, 4))
    assert reference.abs().sum() > 0
    torch.testing.assert_close(ours, reference, rtol=1e-6, atol=1e-7)  # grads reach 5e-2
    kept, skipped = informative_rows(batch, 3)
    assert skipped == 4
    for n in (3, 4):  # micro-batches of unequal sizes too
        torch.testing.assert_close(loss_gradient(trainer, length_grouped_microbatches(kept, n)), reference, rtol=1e-6, atol=1e-7)

    trainer._step, trainer._buffered_inputs = 0, None
    first = trainer._prepare_inputs([{"prompt": f"t{i // 2}"} for i in range(ROWS)])
    # training takes the grouped, unpadded micro-batches (the rollouts are fixed, so they are the same rows)
    assert len(trainer._buffered_inputs) == 4
    assert torch.equal(first["completion_ids"], length_grouped_microbatches(batch, 4)[0]["completion_ids"])
