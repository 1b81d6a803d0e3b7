"""Decision reward (decision format only): the right token, `<|use_tool|>` or `<|answer|>`, each step.

Before each assistant step of a user turn, the right decision follows from the data: `use_tool`
while fewer calls have been made in the turn than the ground truth has (at least one where any call
is right), `answer` once they have been made, and `answer` throughout a turn where no call is right.
Score: the fraction of steps with the right decision; valid iff all are right.

Error types: `missing_decision` (no decision token), `wrong_decision`.
"""

from __future__ import annotations

from typing import Any

from envs.types import Episode, Task
from rewards.expect import turn_expectation
from rewards.types import RewardResult

ERROR_TYPES = {
    "no_output": "the episode has no assistant message",
    "missing_decision": "a step starts with no decision token",
    "wrong_decision": "a step took the wrong decision",
}


def _calls_needed(task: Task, turn: int) -> int:
    expect = turn_expectation(task, turn)
    return len(task.ground_truth[turn]) if expect == "calls" else (1 if expect == "any" else 0)


def check(task: Task, episode: Episode) -> RewardResult:
    """Scores each step's decision token against the decision the ground truth implies."""
    if not episode.steps:
        return RewardResult(0.0, False, "no_output")
    made: dict[int, int] = {}
    errors: list[dict[str, Any]] = []
    for k, step in enumerate(episode.steps):
        if step.turn >= len(task.turns):
            continue
        so_far = made.get(step.turn, 0)
        right = "use_tool" if so_far < _calls_needed(task, step.turn) else "answer"
        if step.decision is None:
            errors.append({"step": k, "error_type": "missing_decision", "expected": right})
        elif step.decision != right:
            errors.append(
                {"step": k, "error_type": "wrong_decision", "expected": right, "got": step.decision}
            )
        made[step.turn] = so_far + len(step.calls)
    if not errors:
        return RewardResult(1.0, True)
    score = 1.0 - len(errors) / len(episode.steps)
    return RewardResult(score, False, errors[0]["error_type"], {"bad_steps": errors})
