"""What a task expects of each user turn, read from its data (never from its category name).

- A turn with a non-empty ground truth expects those calls.
- A turn with an empty ground truth expects no call (no tool fits, or information is missing) ...
- ... except on BFCL live_relevance tasks, whose ground truth is `[]` because BFCL's possible-answer
  form cannot say "any call": `envs.bfcl` marks them with `metadata["bfcl_scoring"] == "relevance"`,
  and there any call is right.
- A missing-parameter turn names the parameter(s) left out in `metadata["missing_param"]` (or
  `"missing_params"`): a string, a list, or one such entry per turn. The right reply asks for them.
"""

from __future__ import annotations

from typing import Any, Literal

from envs.types import Task

Expectation = Literal["calls", "none", "any"]


def turn_expectation(task: Task, turn: int) -> Expectation:
    """ "calls" (the ground-truth calls), "none" (no call is right) or "any" (any call is right)."""
    if task.ground_truth[turn]:
        return "calls"
    if task.metadata.get("bfcl_scoring") == "relevance":
        return "any"
    return "none"


def missing_params(task: Task, turn: int) -> list[str]:
    """Names of the parameters the user left out in this turn (empty unless it is a missing-param turn).

    `metadata["missing_param"]` (or `"missing_params"`) is a name or a list of names for the task's
    call-free turns, or, per turn, a list aligned with `task.turns` whose items are such lists or None.
    """
    if task.ground_truth[turn]:
        return []
    raw: Any = task.metadata.get("missing_params", task.metadata.get("missing_param"))
    if (
        isinstance(raw, list)
        and len(raw) == len(task.turns)
        and all(x is None or isinstance(x, list) for x in raw)
    ):
        raw = raw[turn]
    if isinstance(raw, str):
        return [raw] if raw else []
    if isinstance(raw, list):
        return [p for p in raw if isinstance(p, str) and p]
    return []
