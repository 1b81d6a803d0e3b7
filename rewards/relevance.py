"""Relevance reward: call when a tool fits, hold back when none does, ask when information is missing.

A call attempt that did not parse (rewards.format.call_attempt: malformed call syntax, or a call to one of the
task's tools written in prose or in another format) counts as a call: it is not an abstention.

Per user turn, from the data (see rewards/expect.py), never from the category name:
    the ground truth has calls      at least one call was made (which calls is the `ast` component's job)
    any call is right               at least one call was made (BFCL live_relevance)
    no call is right                no call was made; and on a missing-parameter turn the reply must
                                    ask for the missing information: its final answer contains a "?"
                                    or names a missing parameter ("start_date" also as "start date").
                                    A call-free reply that does not ask earns half credit.
Score: the mean over turns (each in `details["turn_scores"]`); valid iff every turn earns full credit.

Error types: `unexpected_call` (a call where none is right), `no_call` (no call where one was
needed), `no_question` (no call, but no clarifying question on a missing-parameter turn).
"""

from __future__ import annotations

from typing import Any

from envs.schema import tool_name
from envs.types import Episode, Task
from rewards.expect import missing_params, turn_expectation
from rewards.format import call_attempt
from rewards.types import RewardResult

ERROR_TYPES = {
    "unexpected_call": "a call was made on a turn where no call is right",
    "no_call": "no call was made on a turn that needs one",
    "no_question": "a missing-parameter turn was answered without asking for the missing information",
}


def asks_for(answer: str, params: list[str]) -> bool:
    """True if the reply reads as a clarifying question about the missing parameters."""
    text = answer.lower()
    if "?" in text:
        return True
    for p in params:
        p = p.lower()
        if p in text or p.replace("_", " ") in text:
            return True
    return False


def check(task: Task, episode: Episode) -> RewardResult:
    """Scores, per user turn, whether the policy called tools exactly when it should have."""
    scores: list[float] = []
    errors: list[dict[str, Any]] = []
    names = [tool_name(t) for t in task.tools]
    for turn in range(len(task.turns)):
        made_call = bool(episode.calls(turn)) or any(
            call_attempt(s, names) is not None for s in episode.steps if s.turn == turn
        )
        expect = turn_expectation(task, turn)
        if expect == "none":
            missing = missing_params(task, turn)
            if made_call:
                score, err = 0.0, "unexpected_call"
            elif missing and not asks_for(episode.final_answer(turn), missing):
                score, err = 0.5, "no_question"
            else:
                score, err = 1.0, None
        else:
            score, err = (1.0, None) if made_call else (0.0, "no_call")
        scores.append(score)
        if err is not None:
            errors.append({"turn": turn, "error_type": err})
    mean = sum(scores) / len(scores)
    if not errors:
        return RewardResult(1.0, True, None, {"turn_scores": scores})
    return RewardResult(mean, False, errors[0]["error_type"], {"turns": errors, "turn_scores": scores})
