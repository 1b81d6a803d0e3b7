"""BFCL's official multi-turn checker as a test oracle for `envs.bfcl.check_multi_turn` (never run time).

Used by the differential test in tests/envs/test_bfcl.py:
- `perturbations()` derives model executions from a task's ground truth: the ground truth itself, a wrong
  argument, a dropped call, two calls swapped, an extra call, a turn with no call, and a dropped call whose
  response the ground truth has but whose absence leaves the state as it is (a missing response content);
- `call_string()` writes a call back as the string BFCL's decoder produces, so both sides run the same call;
- `official_verdict()` runs `bfcl_eval`'s `multi_turn_checker` on those strings. It executes them on fresh
  instances of BFCL's API classes. The checker caches instances in a module dict under the model name, so
  each verdict gets a name of its own, and its entries are dropped afterwards.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

from envs.types import Task, ToolCall

PERTURBATIONS = (
    "wrong_argument",
    "dropped_call",
    "reordered_calls",
    "extra_call",
    "empty_turn",
    "missing_response",
)
_names = itertools.count()

Turns = list[list[ToolCall]]


def call_string(call: ToolCall) -> str:
    """`ToolCall("cd", {"folder": "x"})` -> `"cd(folder='x')"`: keyword arguments, Python literals."""
    return f"{call.name}({', '.join(f'{k}={v!r}' for k, v in call.arguments.items())})"


def official_verdict(task: Task, turns: Turns) -> dict[str, Any]:
    """BFCL's verdict on a model that made `turns` of calls (one step per turn), for a task from `envs.bfcl`."""
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    name = f"toolgymoracle{next(_names)}"
    entry = {"id": task.id, "initial_config": task.initial_state, "involved_classes": task.metadata["bfcl_involved_classes"]}
    decoded = [[[call_string(c) for c in turn]] if turn else [] for turn in turns]
    try:
        return multi_turn_checker(decoded, task.metadata["bfcl_ground_truth_calls"], entry, task.metadata["bfcl_category"], name)
    finally:
        cache = vars(multi_turn_utils)
        for key in [k for k in cache if k.startswith(name)]:
            del cache[key]


def _changed(value: Any) -> Any:
    """A value of the same JSON type that differs from `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    if isinstance(value, dict):
        return {} if value else {"x": 1}
    return "x"


def perturbations(task: Task, gt: Turns, rng: random.Random, keeps_state: Callable[[Turns, int], bool]) -> dict[str, Turns]:
    """The model executions derived from `gt` (the task's ground-truth calls per turn), by kind.

    Args:
        task: The task (for its id in error messages).
        gt: Ground-truth calls per turn.
        rng: Chooses the turn and call each perturbation touches.
        keeps_state: `keeps_state(turns, k)` is True when playing `turns` leaves the state after turn `k` equal
            to the ground truth's. It picks the call whose removal only loses a response.

    Returns:
        `{"ground_truth": gt, kind: turns}` for each kind of `PERTURBATIONS` that the task allows (a swap needs
        a turn with two different calls; a wrong argument needs a call with an argument).
    """
    out: dict[str, Turns] = {"ground_truth": gt}
    spots = [(k, j) for k, turn in enumerate(gt) for j in range(len(turn))]
    if not spots:
        raise ValueError(f"{task.id}: no ground-truth call to perturb")

    def edit(k: int, new_turn: list[ToolCall]) -> Turns:
        return [list(new_turn) if i == k else list(turn) for i, turn in enumerate(gt)]

    with_args = [(k, j) for k, j in spots if gt[k][j].arguments]
    if with_args:
        k, j = rng.choice(with_args)
        arg = rng.choice(sorted(gt[k][j].arguments))
        call = gt[k][j]
        wrong = ToolCall(call.name, {**call.arguments, arg: _changed(call.arguments[arg])})
        out["wrong_argument"] = edit(k, [*gt[k][:j], wrong, *gt[k][j + 1 :]])
    k, j = rng.choice(spots)
    out["dropped_call"] = edit(k, gt[k][:j] + gt[k][j + 1 :])
    swaps = [(k, j) for k, j in spots if j + 1 < len(gt[k]) and gt[k][j] != gt[k][j + 1]]
    if swaps:
        k, j = rng.choice(swaps)
        out["reordered_calls"] = edit(k, [*gt[k][:j], gt[k][j + 1], gt[k][j], *gt[k][j + 2 :]])
    k, j = rng.choice(spots)
    other = rng.choice(spots)  # a call of any turn, this one's included: repeated, or out of its place
    out["extra_call"] = edit(k, [*gt[k][: j + 1], gt[other[0]][other[1]], *gt[k][j + 1 :]])
    k = rng.choice(sorted({k for k, _ in spots}))
    out["empty_turn"] = edit(k, [])
    # Turns with another call first: emptying a one-call turn is the empty-turn case again.
    for k, j in sorted(rng.sample(spots, len(spots)), key=lambda spot: len(gt[spot[0]]) < 2):
        dropped = edit(k, gt[k][:j] + gt[k][j + 1 :])
        if keeps_state(dropped, k):
            out["missing_response"] = dropped
            break
    return out
