"""Length-grouped, unpadded micro-batches of a learner's step batch (used by rl/train/grpo.py's trainer).

TRL pads a step's whole generation batch to its longest prompt and longest completion, then shuffles it and
splits it into `gradient_accumulation_steps` micro-batches that keep that width. Multi-turn tool episodes vary
a lot in length (a tool list of 3 or of 12 schemas, one turn or several), so on CPU a large share of the learner's
time went into pad tokens. Here the rows are sorted by real length before the split and every micro-batch drops its
all-pad columns.

For `dapo`, `grpo` and `dr_grpo` this changes no gradient: their normalisers do not depend on which rows
share a micro-batch (the step's token count, or the number of accumulation steps), and pad columns carry no
attention and no loss (tests/rl/test_trainer.py checks the gradient against TRL's padded path). `bnpo`
normalises by each micro-batch's own token count, so there the grouping sets the weighting, as TRL's random
split does. TRL's shuffle only matters when one generation feeds several optimizer steps (num_iterations > 1
or steps_per_generation > accumulation steps), which `rl.train.grpo.grpo_args` never configures;
`ToolGRPOTrainer._prepare_inputs` refuses those settings.

With `algorithm.skip_flat_groups`, rows whose advantage is exactly 0 (a group whose samples all earned the same
reward) are left out before the split. Under `dapo` with `beta: 0` such a row adds exactly nothing to the loss: its
clipped surrogate is 0 * ratio, and the normaliser is the step's token count, carried over unchanged. So the
gradient stays TRL's (tests/rl/train/test_batching.py) and the learner skips the forward and backward of those rows.
"""

from __future__ import annotations

from typing import Any

import torch

PROMPT_KEYS = ("prompt_ids", "prompt_mask")  # left-padded; every other [B, T] tensor is completion-aligned


def sort_rows(batch: dict[str, Any], order: torch.Tensor) -> dict[str, Any]:
    """Reorders every per-row value (tensors with a batch dim, lists) of a TRL batch dict by `order`."""
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor) and v.ndim >= 1:
            out[k] = v[order]
        elif isinstance(v, list):
            out[k] = [v[i] for i in order.tolist()]
        else:
            out[k] = v  # scalars (num_items_in_batch) and None
    return out


def trim_padding(batch: dict[str, Any]) -> dict[str, Any]:
    """Drops the leading prompt columns and trailing completion columns that are padding in every row."""
    prompt_mask, completion_mask = batch["prompt_mask"], batch["completion_mask"]  # [b, Tp], [b, Tc]
    Tp, Tc = prompt_mask.shape[1], completion_mask.shape[1]
    used_p = prompt_mask.any(dim=0).nonzero()
    used_c = completion_mask.any(dim=0).nonzero()
    start = int(used_p[0]) if len(used_p) else Tp - 1  # keep one column so shapes stay valid
    end = int(used_c[-1]) + 1 if len(used_c) else 1
    out = dict(batch)
    for k, v in batch.items():
        if not isinstance(v, torch.Tensor) or v.ndim < 2:
            continue
        if k in PROMPT_KEYS:
            out[k] = v[:, start:]
        elif v.shape[1] == Tc:
            out[k] = v[:, :end]
    return out


def _real_lengths(batch: dict[str, Any]) -> torch.Tensor:
    return batch["prompt_mask"].sum(1) + batch["completion_mask"].sum(1)  # [B]


def length_grouped_microbatches(batch: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Splits a generation batch into `n` micro-batches of similar length (sizes differ by at most one row), each
    without pad columns."""
    order = torch.argsort(_real_lengths(batch), descending=True, stable=True)  # [B]
    return [trim_padding(sort_rows(batch, rows)) for rows in order.tensor_split(n)]


def informative_rows(batch: dict[str, Any], min_rows: int) -> tuple[dict[str, Any], int]:
    """The rows whose advantage is not zero, and how many were left out. At least `min_rows` stay (each
    micro-batch needs one): the shortest zero-advantage rows fill up, at no cost to the gradient."""
    advantages = batch["advantages"]  # [B] (or [B, T] with token-level advantages)
    flat = (advantages == 0).reshape(len(advantages), -1).all(dim=1)  # [B]
    keep = ~flat
    short_first = torch.argsort(_real_lengths(batch), stable=True)
    for i in short_first[flat[short_first]].tolist()[: max(min_rows - int(keep.sum()), 0)]:
        keep[i] = True
    return sort_rows(batch, keep.nonzero().flatten()), int((~keep).sum())
