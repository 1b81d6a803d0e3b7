"""Format reward: every assistant message parsed cleanly, and messages with calls hold nothing else.

The policy must write calls in the configured format (envs/formats.py). A step fails when:
    parse_error     the format could not parse it (`Step.parse_error`, set by the rollout)
    stray_content   it has calls and also text outside them, e.g. a valid call followed by garbage
                    (the format is re-parsed here, because `Step` does not keep the stray text)
An episode with no assistant step fails with `no_output`. Score: the fraction of clean steps.

The native format needs the tokenizer to parse, so for it only `parse_error` is checked.
"""

from __future__ import annotations

from functools import cache

from envs.formats import Format, get_format
from envs.types import Episode, Task
from rewards.types import RewardResult

ERROR_TYPES = {
    "no_output": "the episode has no assistant message",
    "parse_error": "an assistant message could not be parsed",
    "stray_content": "an assistant message with calls also has text outside the calls",
}


@cache
def _format(name: str, decision_inner: str) -> Format | None:
    return None if name == "native" else get_format(name, decision_inner=decision_inner)


def check(
    task: Task, episode: Episode, format_name: str = "pythonic", decision_inner: str = "pythonic"
) -> RewardResult:
    """Scores how cleanly the episode's assistant messages follow the format.

    Args:
        task: The task (unused: the format is a property of the text alone).
        episode: The episode; its steps' `text`, `calls` and `parse_error` are read.
        format_name: The format the policy was asked to write.
        decision_inner: The call grammar inside the decision format.
    """
    if not episode.steps:
        return RewardResult(0.0, False, "no_output")
    fmt = _format(format_name, decision_inner)
    bad: list[dict[str, object]] = []
    for k, step in enumerate(episode.steps):
        if step.parse_error is not None:
            bad.append({"step": k, "error_type": "parse_error", "message": step.parse_error})
        elif step.calls and fmt is not None:
            stray = fmt.parse(step.text).content.strip()
            if stray:
                bad.append({"step": k, "error_type": "stray_content", "content": stray[:200]})
    if not bad:
        return RewardResult(1.0, True)
    score = 1.0 - len(bad) / len(episode.steps)
    return RewardResult(score, False, str(bad[0]["error_type"]), {"bad_steps": bad})
