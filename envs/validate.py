"""Rule-based verification of task files: the gate every generated or imported task must pass.

A task is rejected when:
- its JSON line does not parse into a Task (reported with the field at fault);
- a ground-truth call names a tool the task does not offer, lacks a required argument, names an unknown
  argument, or lists an acceptable value that does not conform to the argument's schema;
- replaying the ground truth on a fresh env gives an error, or a state other than `expected_state`;
- its shape contradicts its category (e.g. an irrelevance task with a call, or offering a fitting tool;
  a missing_param task whose missing parameter is not a required one of an offered tool).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.argcheck import compile_value
from envs.replay import concrete_value, replay
from envs.schema import normalize_tool
from envs.types import Task, TaskFormatError


@dataclass
class Reject:
    """One rejected line: where, which task, and why."""

    line: int
    task_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" ({self.task_id})" if self.task_id else "") + f": {self.reason}"


def validate_task(task: Task) -> list[str]:
    """All the reasons to reject a task (empty when it is valid)."""
    reasons: list[str] = []
    tools: dict[str, dict[str, Any]] = {}
    for t in task.tools:
        fn = normalize_tool(t)["function"]
        if fn["name"] in tools:
            reasons.append(f"tools: {fn['name']!r} is offered twice")
        tools[fn["name"]] = fn["parameters"]
    for k, turn in enumerate(task.ground_truth):
        for call in turn:
            (name, args), = call.items()
            reasons += [f"ground_truth[{k}].{name}: {r}" for r in _check_call(name, args, tools)]
    reasons += _check_category(task, tools)
    if reasons:
        return reasons  # replaying malformed ground truth would only repeat the same problems
    try:
        states, results = replay(task)
    except Exception as e:  # noqa: BLE001 - e.g. an env class that cannot be built: a reason, not a crash
        return [f"cannot replay the ground truth: {type(e).__name__}: {e}"]
    for k, turn_results in enumerate(results):
        for r in turn_results:
            if not r.ok:
                reasons.append(f"ground_truth[{k}].{r.call.name}: fails in a fresh env: {r.error}")
    if not reasons and task.expected_state is not None and states and states[-1] != task.expected_state:
        reasons.append(f"expected_state differs from the replayed state at {_first_difference(task.expected_state, states[-1])}")
    return reasons


def _check_call(name: str, args: dict[str, list[Any]], tools: dict[str, dict[str, Any]]) -> list[str]:
    if name not in tools:
        return [f"not among the task's tools ({', '.join(tools) or 'none'})"]
    params = tools[name]
    props = params.get("properties") or {}
    reasons = []
    for r in params.get("required") or []:
        if r not in args:
            reasons.append(f"lacks the required argument {r!r}")
        elif "" in args[r]:
            reasons.append(f"marks the required argument {r!r} as omittable")
    for arg, values in args.items():
        if arg not in props:
            reasons.append(f"unknown argument {arg!r}")
            continue
        if not values:
            reasons.append(f"argument {arg!r} has no acceptable value")
        check = compile_value(props[arg], arg)
        for v in values:
            if isinstance(v, str) and v == "":
                continue
            err = check(concrete_value(v, props[arg]))
            if err is not None:
                reasons.append(f"acceptable value {v!r} does not conform: {err}")
    return reasons


def _check_category(task: Task, tools: dict[str, dict[str, Any]]) -> list[str]:
    gt, meta, cat = task.ground_truth, task.metadata, task.category
    first = gt[0]
    names = [next(iter(c)) for c in first]
    if cat == "irrelevance":
        reasons = [f"ground_truth[{k}]: an irrelevance task expects no call" for k, t in enumerate(gt) if t]
        fitting = set(meta.get("fitting_tools") or []) & set(tools)
        if fitting:
            reasons.append(f"irrelevance task offers tools that fit the request: {sorted(fitting)}")
        return reasons
    if cat == "missing_param":
        reasons = [] if not first else ["ground_truth[0]: a missing_param turn expects no call (ask instead)"]
        param, tool = meta.get("missing_param"), meta.get("missing_tool")
        if param is not None or tool is not None:
            if tool not in tools:
                reasons.append(f"metadata.missing_tool {tool!r} is not offered")
            elif not _is_required(tools[tool], str(param)):
                reasons.append(f"metadata.missing_param {param!r} is not a required parameter of {tool}")
        return reasons
    expect = {
        "simple": (len(names) == 1, "exactly one call"),
        "multiple": (len(names) == 1 and len(tools) > 1, "one call among several tools"),
        "parallel": (len(names) >= 2 and len(set(names)) == 1, "two or more calls of one function"),
        # BFCL's parallel_multiple sometimes calls one of its several functions twice: two calls suffice
        "parallel_multiple": (len(names) >= 2 and len(tools) >= 2, "two or more calls among several tools"),
        "multi_step": (len(names) >= 2, "two or more calls"),
    }.get(cat)
    if expect is not None and not expect[0]:
        return [f"a {cat} task needs {expect[1]} in its first turn"]
    return []


def _is_required(schema: dict[str, Any], path: str) -> bool:
    """Whether a (dotted, for nested objects) parameter is required: "items.quantity" looks inside items."""
    for part in path.split("."):
        while schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            schema = schema["items"]
        if part not in (schema.get("required") or []):
            return False
        schema = (schema.get("properties") or {}).get(part) or {}
    return True


def _first_difference(a: Any, b: Any, path: str = "state") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k} (present on one side only)"
            if a[k] != b[k]:
                return _first_difference(a[k], b[k], f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: expected {json.dumps(a, default=str)[:120]}, replay gave {json.dumps(b, default=str)[:120]}"


def validate_lines(lines: Iterable[str]) -> Iterator[tuple[int, Task | None, list[str]]]:
    """Validates JSONL lines: yields (line number, task or None, reasons) for every non-blank line."""
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            task = Task.from_json(line)
        except TaskFormatError as e:
            yield lineno, None, [str(e)]
            continue
        except (TypeError, ValueError) as e:  # a field of the right JSON type but an unusable value
            yield lineno, None, [f"malformed task: {e}"]
            continue
        reasons = validate_task(task)
        if task.id in seen:
            reasons.append(f"duplicate id (first on line {seen[task.id]})")
        seen.setdefault(task.id, lineno)
        yield lineno, task, reasons


def validate_file(path: str | Path) -> tuple[int, list[Reject]]:
    """Validates a JSONL task file. Returns (number of tasks read, rejects)."""
    rejects, n = [], 0
    with Path(path).open(encoding="utf-8") as f:
        for lineno, task, reasons in validate_lines(f):
            n += 1
            rejects += [Reject(lineno, task.id if task else None, r) for r in reasons]
    return n, rejects
