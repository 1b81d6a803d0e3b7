"""Format reward: every assistant message parsed cleanly, and messages with calls hold nothing else.

The policy must write calls in the configured format (envs/formats.py). A step fails when:
    parse_error     the format found call syntax it could not parse (`Step.parse_error`, set by the rollout):
                    a truncated or unbalanced call list, a value that is not a literal, ...
    unparsed_call   nothing parsed, yet the text writes a call to one of the task's tools: `tool(` in prose,
                    or a JSON object naming the tool (another format's syntax)
    stray_content   it has calls and also text outside them, e.g. a valid call followed by garbage
                    (the format is re-parsed here, because `Step` does not keep the stray text)
An episode with no assistant step fails with `no_output`.

Score: 0.0 when any step attempted a call that did not parse (`parse_error`, `unparsed_call`): such text
is not an answer, and it must not pass as one where no call is right (an abstention); later clean steps do
not average it away. Otherwise the fraction of clean steps.

The native format needs the tokenizer to parse, so for it `stray_content` is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from envs.formats import Format, get_format
from envs.schema import tool_name
from envs.types import Episode, Step, Task
from rewards.types import RewardResult

ERROR_TYPES = {
    "no_output": "the episode has no assistant message",
    "parse_error": "an assistant message could not be parsed",
    "unparsed_call": "an assistant message writes a call to a task's tool that the format did not parse",
    "stray_content": "an assistant message with calls also has text outside the calls",
}
ATTEMPTS = ("parse_error", "unparsed_call")  # the step tried to call; see `call_attempt`


@cache
def _call_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    if not names:
        return None
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    # `tool(` not preceded by part of an identifier, or `"name": "tool"` (a JSON call in any wrapping)
    return re.compile(rf'(?<![\w.])(?:{alt})\s*\(|"name"\s*:\s*"(?:{alt})"')


def call_attempt(step: Step, tool_names: Sequence[str]) -> str | None:
    """Whether a step tried to call and got no parsed call for it: "parse_error", "unparsed_call" or None.

    Args:
        step: One assistant message.
        tool_names: The task's tool names (a call in prose or another format names one of them).
    """
    if step.parse_error is not None:
        return "parse_error"
    if step.calls:
        return None
    pattern = _call_pattern(tuple(tool_names))
    return "unparsed_call" if pattern is not None and pattern.search(step.text or "") else None


@cache
def _format(name: str, decision_inner: str) -> Format | None:
    return None if name == "native" else get_format(name, decision_inner=decision_inner)


def check(
    task: Task, episode: Episode, format_name: str = "pythonic", decision_inner: str = "pythonic"
) -> RewardResult:
    """Scores how cleanly the episode's assistant messages follow the format.

    Args:
        task: The task (its tool names: a call to one of them in prose is an attempted call).
        episode: The episode; its steps' `text`, `calls` and `parse_error` are read.
        format_name: The format the policy was asked to write.
        decision_inner: The call grammar inside the decision format.
    """
    if not episode.steps:
        return RewardResult(0.0, False, "no_output")
    fmt = _format(format_name, decision_inner)
    names = [tool_name(t) for t in task.tools]
    bad: list[dict[str, object]] = []
    for k, step in enumerate(episode.steps):
        attempt = call_attempt(step, names)
        if attempt == "parse_error":
            bad.append({"step": k, "error_type": attempt, "message": step.parse_error})
        elif attempt == "unparsed_call":
            bad.append({"step": k, "error_type": attempt, "content": step.text[:200]})
        elif step.calls and fmt is not None:
            stray = fmt.parse(step.text).content.strip()
            if stray:
                bad.append({"step": k, "error_type": "stray_content", "content": stray[:200]})
    if not bad:
        return RewardResult(1.0, True)
    attempted = any(b["error_type"] in ATTEMPTS for b in bad)
    score = 0.0 if attempted else 1.0 - len(bad) / len(episode.steps)
    return RewardResult(score, False, str(bad[0]["error_type"]), {"bad_steps": bad})
