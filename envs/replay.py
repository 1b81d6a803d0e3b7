"""Turning possible-answer ground truth into concrete calls, and replaying it on a fresh env.

Ground truth follows BFCL's possible-answer style: `{function: {argument: [acceptable values]}}`, where
`""` means "may be omitted". Nested objects follow BFCL too: an object-typed argument's acceptable values
are themselves possible-answer dicts (`{"sku": ["A1"], "quantity": [2]}`), and so are the elements of an
array of objects. The concrete call takes the first acceptable value of each argument; an argument whose
only acceptable value is `""` is left out.
"""

from __future__ import annotations

from typing import Any

from envs.schema import normalize_tool
from envs.types import Task, ToolCall, ToolResult, TurnGroundTruth

_OMIT = object()


def materialize(values: list[Any], schema: dict[str, Any] | None, prefer_omit: bool = False) -> Any:
    """The concrete value for one argument: the first acceptable value that is not "" (or _OMIT).

    With `prefer_omit`, an argument that may be omitted ("" is acceptable) is omitted: the shortest
    correct call, which is what SFT targets should teach.
    """
    if prefer_omit and "" in values:
        return _OMIT
    for v in values:
        if not (isinstance(v, str) and v == ""):
            return concrete_value(v, schema or {})
    return _OMIT


def concrete_value(value: Any, schema: dict[str, Any]) -> Any:
    """One acceptable value as a concrete argument (nested possible-answer dicts resolved via the schema)."""
    typ = schema.get("type")
    if typ == "object" and isinstance(schema.get("properties"), dict) and isinstance(value, dict):
        return _concrete_object(value, schema["properties"])
    if typ == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [concrete_value(v, schema["items"]) for v in value]
    return value


def _concrete_object(value: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in value.items():
        if isinstance(v, list):  # a possible-answer dict: every key maps to a list of acceptable values
            got = materialize(v, props.get(k))
            if got is not _OMIT:
                out[k] = got
        else:
            out[k] = v
    return out


def turn_calls(turn: TurnGroundTruth, schemas: dict[str, dict[str, Any]], prefer_omit: bool = False) -> list[ToolCall]:
    """The concrete calls of one ground-truth turn.

    Args:
        turn: `[{function: {argument: [acceptable values]}}, ...]`.
        schemas: Tool name -> its `parameters` schema (JSON-schema types).
        prefer_omit: Leave out every argument that may be omitted (see `materialize`).
    """
    calls = []
    for entry in turn:
        (name, args), = entry.items()
        props = (schemas.get(name) or {}).get("properties") or {}
        concrete = {}
        for arg, values in args.items():
            got = materialize(values, props.get(arg), prefer_omit)
            if got is not _OMIT:
                concrete[arg] = got
        calls.append(ToolCall(name, concrete))
    return calls


def tool_parameters(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tool name -> normalised `parameters` schema."""
    out = {}
    for t in tools:
        fn = normalize_tool(t)["function"]
        out.setdefault(fn["name"], fn["parameters"])
    return out


def replay(task: Task, env: Any = None) -> tuple[list[dict[str, Any]], list[list[ToolResult]]]:
    """Replays a task's ground truth on a fresh env.

    Returns:
        The env state after each user turn, and the results of each turn's calls.
    """
    from envs import env_for_task  # the package imports this module
    from envs.open_world import golden_task

    own = env is None
    env = env or env_for_task(golden_task(task), call_timeout_s=None)
    try:
        env.reset(task)
        schemas = tool_parameters(task.tools)
        states, results = [], []
        for turn in task.ground_truth:
            results.append(env.step(turn_calls(turn, schemas)))
            states.append(env.state())
        return states, results
    finally:
        if own:
            env.close()


def replay_ground_truth(task: Task) -> list[dict[str, Any]]:
    """The env state after each user turn when the task's ground-truth calls are replayed.

    Each argument takes its first acceptable value; `""` (omitted) is skipped. Errors of the replayed
    calls are not raised (they are values); use `replay` to see them.
    """
    return replay(task)[0]
