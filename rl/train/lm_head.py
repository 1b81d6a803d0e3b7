"""TRL's fused LM head, scoring only the labelled positions on CPU too.

TRL computes the per-token log-probabilities of both trainers (GRPO's policy loss, SFT's NLL) through a chunked LM
head that never materialises the full logits (trl/kernels/chunked_logprob.py, entered from `_fused_forward` in
trl/trainer/utils.py). On Triton devices it projects only the positions that carry a label. Everywhere else it
projects every position, prompt and padding included, so that devices which compile per tile shape (Neuron) see
one shape. Eager CPU compiles nothing, and a tool-use batch is mostly prompt (the tool list): tiny-random's forward
and backward on 4 x 1,250 tokens with 300 labelled each took 9.4 s over every position and 2.5 s over the
labelled ones, with identical log-probabilities and entropies (the weight gradient sums the same rows in another
order: 4e-6 apart). `python launch/bench.py learner` compares the two on the demo's shapes with SmolLM2.

TRL (pinned to one minor in pyproject.toml) decides this with one call, `trl.trainer.utils._use_triton(device)`,
used there for nothing else; `labelled_positions_only()` answers it "yes" on CPU for as long as training runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def labelled_positions_only() -> Iterator[None]:
    """Within the block, TRL's fused LM head projects only positions with a label, on CPU as on Triton devices."""
    import trl.trainer.utils as trl_utils

    triton_rule = trl_utils._use_triton

    def compact(device) -> bool:
        return device.type == "cpu" or triton_rule(device)

    trl_utils._use_triton = compact
    try:
        yield
    finally:
        trl_utils._use_triton = triton_rule
