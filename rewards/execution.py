"""Execution reward: did the episode leave the world as the ground truth would, and tell the user?

The ground-truth calls, materialised as `envs.replay` does (first acceptable value of each argument,
`""` omitted), are replayed on a fresh env from the task's initial state (`envs.env_for_task`, reset
with the seed the episode's env was reset with, `metadata["env_seed"]`, else `metadata["seed"]`, else
the env's default), one call at a time, recording the state after each call and after each user turn.
The seed matters only for domains the task's `initial_state` leaves to the env's seeded default.
Then, per user turn k:

- state: the changes the ground truth made in turn k (leaf-level diff between the expected states
  after turns k-1 and k) are reproduced when the episode's state after turn k (`Episode.turn_states`)
  has the expected value there; every other leaf where the episode's state differs from the expected
  one is an unwanted change. Leaves of lists are their items (as a multiset), so appending a record
  is one change, wherever it lands.
- responses (as BFCL multi-turn's response checker): each ground-truth call's result (as text) must
  appear among the episode's call results of turns 0..k, order ignored, each used once.
- answer: outputs the user asked for, i.e. results of ground-truth calls that leave the state as it
  was (read-only) and that no later ground-truth call of the turn consumes as an argument, must
  reach the turn's final answer (`Episode.final_answer(k)`): at least one of the output's
  informative leaf values appears in it (numbers in their usual spellings, strings ignoring case
  and spacing; echoes of the call's own arguments do not count, see `informative_leaves`).

BFCL's response checker ignores order (parallel calls may run in any order), and so does this one.
Pass the episode's `max_output_chars` (RewardSpec.max_output_chars): outputs are truncated to it, and
the response check compares texts.

Turn score = (reproduced changes + responses found + outputs answered) / (expected changes +
unwanted changes + responses + outputs), 1.0 when there is nothing to check; episode score = mean
over turns; valid iff every turn has no state difference at all, every response and every output.

A task whose env has no state at all (e.g. BFCL AST-only tasks, played in a schema-only env) gives
`RewardResult(1.0, valid=True, error_type="not_applicable")`: nothing can be wrong, and a constant
component leaves GRPO's group-normalised advantages unchanged.

Error types: `state_mismatch`, `missing_response`, `output_not_in_answer`, `not_applicable` (valid),
`replay_failed` (the ground truth itself could not be replayed; score 0, a task bug to fix).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any

from envs.open_world import golden_task
from envs.types import Episode, Task, ToolCall, ToolResult
from rewards.types import RewardResult

ERROR_TYPES = {
    "state_mismatch": "the env state after a turn differs from the ground truth's",
    "missing_response": "a ground-truth call's result does not appear among the episode's results",
    "output_not_in_answer": "an output the user asked for does not appear in the turn's final answer",
    "not_applicable": "the task's env has no state; nothing to check (valid, score 1)",
    "replay_failed": "the ground truth could not be replayed on a fresh env",
}

_REPLAY_CACHE_MAX = 512
_replay_cache: dict[tuple[int, Any, int], tuple[Task, dict[str, Any]]] = {}


# ---------------------------------------------------------------------------------------------------
# Replaying the ground truth
# ---------------------------------------------------------------------------------------------------


def ground_truth_calls(task: Task) -> list[list[ToolCall]]:
    """The concrete ground-truth calls of each user turn, materialised as `envs.replay` does (first
    acceptable value of each argument, `""` omitted, nested possible-answer dicts resolved)."""
    from envs.replay import tool_parameters, turn_calls

    schemas = tool_parameters(task.tools)
    return [turn_calls(turn, schemas) for turn in task.ground_truth]


def replay(task: Task, seed: int | None = None, max_output_chars: int = 1000) -> dict[str, Any]:
    """Replays the ground truth on a fresh env, one call at a time (cached per task object and settings).

    Returns:
        {"initial": state, "turns": [{"state": state after the turn, "calls": [ToolCall],
        "results": [ToolResult], "readonly": [bool per call: the state was the same after it]}]}
    """
    key = (id(task), seed, max_output_chars)
    hit = _replay_cache.get(key)
    if hit is not None and hit[0] is task:
        return hit[1]
    import envs  # lazily: rewards does not need envs' simulated APIs unless this component runs

    # As envs.replay does: no time limit for the ground truth.
    env = envs.env_for_task(golden_task(task), call_timeout_s=None, max_output_chars=max_output_chars)
    try:
        env.reset(task, seed=seed)
        prev = initial = env.state()
        turns = []
        for calls in ground_truth_calls(task):
            results, readonly = [], []
            for call in calls:  # one at a time, to see which calls change the state
                (result,) = env.step([call])
                now = env.state()
                results.append(result)
                readonly.append(now == prev)
                prev = now
            turns.append({"state": prev, "calls": calls, "results": results, "readonly": readonly})
    finally:
        env.close()
    out = {"initial": initial, "turns": turns}
    if len(_replay_cache) >= _REPLAY_CACHE_MAX:
        _replay_cache.clear()
    _replay_cache[key] = (task, out)  # the entry keeps `task` alive, so its id is not reused
    return out


# ---------------------------------------------------------------------------------------------------
# State diffs at leaf level
# ---------------------------------------------------------------------------------------------------


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def flatten(state: Any) -> dict[tuple[Any, ...], Any]:
    """Leaf path -> value. Dicts recurse by key; a list's items are leaves keyed by their JSON text,
    valued by their multiplicity; empty containers are leaves themselves."""
    out: dict[tuple[Any, ...], Any] = {}

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, (list, tuple)) and value:
            for text, count in Counter(_canon(v) for v in value).items():
                out[(*path, "[]", text)] = count
        else:
            out[path] = _canon(value) if isinstance(value, (dict, list, tuple)) else value

    walk(state, ())
    return out


def diff(a: dict[tuple[Any, ...], Any], b: dict[tuple[Any, ...], Any]) -> set[tuple[Any, ...]]:
    """Leaf paths whose value differs between two flattened states (missing counts as different)."""
    missing = object()
    return {
        p
        for p in a.keys() | b.keys()
        if a.get(p, missing) != b.get(p, missing) or type(a.get(p)) is not type(b.get(p))
    }


# ---------------------------------------------------------------------------------------------------
# Responses and answers
# ---------------------------------------------------------------------------------------------------


def result_text(result: ToolResult) -> str:
    """A result as BFCL's multi-turn checker records it: the output text, or the error message."""
    if result.error is not None:
        return "Error during execution: " + result.error
    return result.output if isinstance(result.output, str) else _canon(result.output)


def _leaves(value: Any, limit: int = 64) -> list[Any]:
    """Scalar leaves of a JSON-like value (booleans and None left out: they say little on their own)."""
    out: list[Any] = []
    stack = [value]
    while stack and len(out) < limit:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(list(v)))
        elif isinstance(v, str):
            if len(v.strip()) >= 2:
                out.append(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(v)
    return out


def _number_pattern(x: float) -> re.Pattern[str]:
    """Matches a number as prose writes it: 1234.5, 1,234.5, 1234.50; an integral float also as 1234."""
    forms = {repr(x), f"{x:,}"}
    if isinstance(x, float):
        forms |= {f"{x:.2f}", f"{x:,.2f}", f"{x:.1f}"}
        if x.is_integer():
            forms |= {str(int(x)), f"{int(x):,}"}
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\d.])(?:{alternatives})(?![\d]|\.\d)")


def informative_leaves(output: Any, arguments: dict[str, Any]) -> list[Any]:
    """The leaves of an output worth telling the user.

    Echoes of the call's own arguments are no evidence of an answer (a city name echoed back), so the
    leaves not among the arguments count, numbers first when there are any. When every leaf is an
    echo, echoed numbers still count: a minimum of a list of numbers is one of them.
    """
    if isinstance(output, str) and output.lstrip()[:1] in ("{", "["):
        try:  # some envs (BFCL's classes) return JSON text: its values are what the user wants
            output = json.loads(output)
        except ValueError:
            pass
    echoed = {_canon(v).lower() for v in _leaves(arguments)}
    leaves = _leaves(output)
    fresh = [v for v in leaves if _canon(v).lower() not in echoed]
    numbers = [v for v in fresh if not isinstance(v, str)]
    return numbers or fresh or [v for v in leaves if not isinstance(v, str)]


def output_in_answer(output: Any, answer: str, arguments: dict[str, Any] | None = None) -> bool:
    """True if the answer tells at least one informative leaf of the output (see `informative_leaves`)."""
    # Compare case- and whitespace-insensitively; an answer that quotes JSON text counts as telling it.
    text = answer.lower().replace("\\n", " ").replace("\\t", " ").replace('\\"', '"')
    text = " ".join(text.split())
    for leaf in informative_leaves(output, arguments or {}):
        if isinstance(leaf, str):
            if " ".join(leaf.lower().split()) in text:
                return True
        elif _number_pattern(leaf).search(text):
            return True
    return False


def _consumed(output: Any, later_calls: list[ToolCall]) -> bool:
    """True if some leaf of `output` is passed as an argument to a later call (an intermediate value)."""
    leaves = {_canon(v) for v in _leaves(output)}
    return any(_canon(v) in leaves for c in later_calls for v in _leaves(c.arguments))


# ---------------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------------


def check(task: Task, episode: Episode, max_output_chars: int = 1000) -> RewardResult:
    """Scores the episode's effects against a replay of the ground truth (see the module docstring).

    Args:
        task: The task; its ground truth is replayed on `envs.env_for_task(task)`.
        episode: The episode: `turn_states` (else `final_state`), call results, final answers, and
            `metadata["env_seed"]` (or `"seed"`), the seed its env was reset with.
        max_output_chars: The output limit of the episode's env.
    """
    seed = episode.metadata.get("env_seed", episode.metadata.get("seed"))
    try:
        gt = replay(task, seed=seed, max_output_chars=max_output_chars)
    except Exception as e:  # noqa: BLE001 - a broken task must not crash the training step
        return RewardResult(0.0, False, "replay_failed", {"message": f"{type(e).__name__}: {e}"})
    turns = gt["turns"]
    if not gt["initial"] and not any(t["state"] for t in turns):
        return RewardResult(1.0, True, "not_applicable")

    n = len(turns)
    model_states = list(episode.turn_states[:n])
    model_states += [episode.final_state] * (n - len(model_states))
    expected_flat = [flatten(gt["initial"])] + [flatten(t["state"]) for t in turns]

    seen: Counter[str] = Counter()
    scores: list[float] = []
    problems: list[dict[str, Any]] = []
    for k, turn in enumerate(turns):
        base, target = expected_flat[k], expected_flat[k + 1]
        mismatch = diff(flatten(model_states[k]), target)
        changes = diff(base, target)
        reproduced = len(changes - mismatch)
        unwanted = len(mismatch - changes)

        seen.update(result_text(r) for r in episode.results(k))
        pool = seen.copy()
        missing = []
        for r in turn["results"]:
            text = result_text(r)
            if pool[text] > 0:
                pool[text] -= 1
            else:
                missing.append(text[:200])

        answer = episode.final_answer(k)
        asked = [
            (r.output, r.call.arguments)
            for j, r in enumerate(turn["results"])
            if turn["readonly"][j]
            and r.ok
            and informative_leaves(r.output, r.call.arguments)
            and not _consumed(r.output, turn["calls"][j + 1 :])
        ]
        unanswered = [o for o, args in asked if not output_in_answer(o, answer, args)]

        items = len(changes) + unwanted + len(turn["results"]) + len(asked)
        got = reproduced + len(turn["results"]) - len(missing) + len(asked) - len(unanswered)
        scores.append(got / items if items else 1.0)
        if mismatch:
            problems.append(
                {
                    "turn": k,
                    "error_type": "state_mismatch",
                    "paths": [_path(p) for p in sorted(mismatch, key=str)[:10]],
                }
            )
        if missing:
            problems.append({"turn": k, "error_type": "missing_response", "missing": missing[:5]})
        if unanswered:
            problems.append(
                {
                    "turn": k,
                    "error_type": "output_not_in_answer",
                    "outputs": [_canon(o)[:200] for o in unanswered[:5]],
                }
            )

    if not problems:
        return RewardResult(1.0, True, None, {"turn_scores": scores})
    score = min(sum(scores) / n, 0.999)
    return RewardResult(
        score, False, problems[0]["error_type"], {"problems": problems, "turn_scores": scores}
    )


def _path(path: tuple[Any, ...]) -> str:
    return "/".join(str(p) for p in path)
