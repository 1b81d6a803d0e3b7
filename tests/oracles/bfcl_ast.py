"""BFCL v4 data and the official AST checker, as a test oracle for `rewards.ast_match` (never run time).

Used by the differential test (tests/rewards/test_ast_differential.py) and by `launch/benchmarks/rewards.py`:
- `load_cases()` reads every BFCL v4 Python AST category (non-live and live) from the `bfcl-eval` wheel;
- `make_pairs()` derives model outputs from the ground truth (first or other acceptable values, omitted
  optionals, reordered calls) and perturbs them systematically (wrong value, wrong type, missing
  required, extra parameter, wrong name, dropped or duplicated call, int vs float, string case and
  punctuation, ...), seeded;
- `official_checker()` imports bfcl-eval's `ast_checker`. That module imports a model-config module
  which pulls in every vendor SDK; a stand-in with one model entry (no `.` -> `_` name rewriting)
  replaces it in `sys.modules` for the import only.

Nothing in `rewards` imports this module at run time.
"""

from __future__ import annotations

import copy
import json
import random
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.types import ToolCall

AST_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
ORACLE_MODEL = "toolgym-oracle"


@dataclass
class Case:
    """One BFCL entry: its id, category, function docs and possible answers."""

    id: str
    category: str
    tools: list[dict[str, Any]]
    ground_truth: list[dict[str, dict[str, list[Any]]]]


@dataclass
class Pair:
    """One (tools, calls, ground truth) triple to check, with how the calls were made."""

    case: Case
    calls: list[ToolCall]
    kind: str

    def bfcl_output(self) -> list[dict[str, dict[str, Any]]]:
        """The calls in the decoded form BFCL's checker takes: `[{name: {arg: value}}]`."""
        return [{c.name: c.arguments} for c in self.calls]


def data_dir() -> Path:
    import bfcl_eval  # the data files ship inside the wheel

    return Path(bfcl_eval.__file__).parent / "data"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_cases(categories: tuple[str, ...] = AST_CATEGORIES, with_answers: bool = True) -> list[Case]:
    """BFCL entries of the given categories; without answers (relevance categories have none), the
    ground truth is `[]`."""
    root = data_dir()
    cases = []
    for cat in categories:
        prompts = _read_jsonl(root / f"BFCL_v4_{cat}.json")
        answers: dict[str, Any] = {}
        if with_answers:
            answers = {
                a["id"]: a["ground_truth"]
                for a in _read_jsonl(root / "possible_answer" / f"BFCL_v4_{cat}.json")
            }
        cases += [Case(p["id"], cat, p["function"], answers.get(p["id"], [])) for p in prompts]
    return cases


def load_official() -> tuple[Callable[..., dict[str, Any]], Any]:
    """Imports bfcl-eval's `ast_checker` and `Language.PYTHON`, with the model-config stand-in."""
    stand_in = types.ModuleType("bfcl_eval.constants.model_config")
    stand_in.MODEL_CONFIG_MAPPING = {ORACLE_MODEL: types.SimpleNamespace(underscore_to_dot=False)}
    name = "bfcl_eval.constants.model_config"
    saved = sys.modules.get(name)
    sys.modules[name] = stand_in
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    finally:  # leave sys.modules as it was; the checker module keeps its reference to the stand-in
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved
    return ast_checker, Language.PYTHON


def official_checker() -> Callable[[Pair], bool]:
    """Returns `verdict(pair) -> bool`, BFCL's own `ast_checker(...)["valid"]` for Python."""
    ast_checker, python = load_official()

    def verdict(pair: Pair) -> bool:
        c = pair.case
        return ast_checker(c.tools, pair.bfcl_output(), c.ground_truth, python, c.category, ORACLE_MODEL)[
            "valid"
        ]

    return verdict


# ---------------------------------------------------------------------------------------------------
# Model outputs derived from the ground truth, and perturbations of them
# ---------------------------------------------------------------------------------------------------


def _first_value(values: list[Any]) -> tuple[bool, Any]:
    for v in values:
        if v != "":
            return True, v
    return False, None


def derive_calls(case: Case, rng: random.Random, mode: str) -> list[ToolCall]:
    """Calls built from the possible answers.

    mode "first": the first acceptable value of each argument, omitting those with only "";
    mode "any": a random acceptable value, omitting the argument when "" is drawn.
    """
    calls = []
    for gt in case.ground_truth:
        ((name, args),) = gt.items()
        out = {}
        for k, values in args.items():
            if mode == "first":
                ok, v = _first_value(values)
            else:
                v = rng.choice(values) if values else ""
                ok = not (isinstance(v, str) and v == "")
            if ok:
                out[k] = _resolve(copy.deepcopy(v), rng, mode)
        calls.append(ToolCall(name, out))
    return calls


def _resolve(value: Any, rng: random.Random, mode: str) -> Any:
    """A dict in a possible answer (alone or in a list) maps each key to its own acceptable values."""
    if isinstance(value, list):
        return [_resolve_dict(v, rng, mode) if isinstance(v, dict) else v for v in value]
    return _resolve_dict(value, rng, mode) if isinstance(value, dict) else value


def _resolve_dict(d: dict[str, Any], rng: random.Random, mode: str) -> dict[str, Any]:
    out = {}
    for k, values in d.items():
        if not isinstance(values, list):
            out[k] = values
            continue
        if mode == "first":
            ok, v = _first_value(values)
        else:
            v = rng.choice(values) if values else ""
            ok = not (isinstance(v, str) and v == "")
        if ok:
            out[k] = v
    return out


def _tool(case: Case, name: str) -> dict[str, Any] | None:
    for t in case.tools:
        if t["name"] == name:
            return t
    return None


def _alter_string(s: str, rng: random.Random) -> tuple[str, bool]:
    """A string variant and whether BFCL's standardisation should keep it equal."""
    choice = rng.randrange(6)
    if choice == 0:
        return s.upper(), True
    if choice == 1:
        return s.title(), True
    if choice == 2:  # punctuation BFCL ignores
        i = rng.randrange(len(s) + 1)
        return s[:i] + rng.choice([" ", ",", ".", "-", "_", "/", "*", "^"]) + s[i:], True
    if choice == 3:  # punctuation BFCL keeps
        i = rng.randrange(len(s) + 1)
        return s[:i] + rng.choice(["!", ":", ";", "?", "#"]) + s[i:], False
    if choice == 4:
        return s.replace('"', "'"), True
    return s + "x", False


def _wrong_value(v: Any, rng: random.Random) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + rng.choice([1, -1, 10])
    if isinstance(v, float):
        return v + rng.choice([0.5, 1.0, -0.25])
    if isinstance(v, str):
        return _alter_string(v, rng)[0] if v else "x"
    if isinstance(v, list):
        if not v:
            return ["x"]
        choice = rng.randrange(4)
        if choice == 0:
            return v[:-1]
        if choice == 1:
            return list(reversed(v)) if len(v) > 1 else v + v
        if choice == 2:
            i = rng.randrange(len(v))
            return v[:i] + [_wrong_value(v[i], rng)] + v[i + 1 :]
        return [_alter_string(x, rng)[0] if isinstance(x, str) else x for x in v]
    if isinstance(v, dict):
        if not v:
            return {"x": 1}
        k = rng.choice(list(v))
        choice = rng.randrange(3)
        if choice == 0:
            return {kk: vv for kk, vv in v.items() if kk != k}
        if choice == 1:
            return {**v, k + "_extra": v[k]}
        return {**v, k: _wrong_value(v[k], rng)}
    if v is None:
        return "None"
    return v


def _wrong_type(v: Any, rng: random.Random) -> Any:
    if isinstance(v, bool):
        return rng.choice([int(v), str(v).lower()])
    if isinstance(v, int):
        return rng.choice([float(v), str(v)])
    if isinstance(v, float):
        return rng.choice([str(v), int(v), [v]])
    if isinstance(v, str):
        return rng.choice([[v], 1, True, None])
    if isinstance(v, list):
        choice = rng.randrange(4)
        if choice == 0:
            return tuple(v)
        if choice == 1:
            return json.dumps(v)
        if choice == 2 and v:  # a list whose items have another type
            return [_wrong_type(x, rng) for x in v]
        return {str(i): x for i, x in enumerate(v)}
    if isinstance(v, dict):
        return rng.choice([list(v.items()), json.dumps(v), [v]])
    return rng.choice([0, "", [], {}])


PERTURBATIONS = (
    "wrong_value",
    "wrong_type",
    "int_vs_float",
    "string_variant",
    "missing_required",
    "missing_any",
    "extra_param",
    "extra_schema_param",
    "wrong_name",
    "other_tool_name",
    "drop_call",
    "duplicate_call",
    "reorder",
    "tuple_value",
    "none_value",
    "empty_string",
    "tricky_value",
)

# Values on which Python's equality and BFCL's type rules are easy to get wrong (True == 1 == 1.0, ...).
TRICKY_VALUES = (
    True,
    False,
    0,
    1,
    1.0,
    0.0,
    "",
    " ",
    "1",
    "True",
    None,
    [],
    {},
    [1],
    [1.0],
    ["a"],
    [""],
    (1,),
    [[1]],
    [{}],
)


def perturb(case: Case, calls: list[ToolCall], rng: random.Random, kind: str) -> list[ToolCall]:
    """Applies one named perturbation to a copy of `calls` (no-op when it does not apply)."""
    calls = [ToolCall(c.name, copy.deepcopy(c.arguments)) for c in calls]
    if not calls:
        return calls
    i = rng.randrange(len(calls))
    call = calls[i]
    args = call.arguments
    keys = list(args)
    tool = _tool(case, call.name) or {"parameters": {"properties": {}, "required": []}}
    props = tool["parameters"].get("properties", {})
    key = rng.choice(keys) if keys else None

    if kind == "wrong_value" and key:
        args[key] = _wrong_value(args[key], rng)
    elif kind == "wrong_type" and key:
        args[key] = _wrong_type(args[key], rng)
    elif kind == "int_vs_float":
        numeric = [k for k in keys if type(args[k]) in (int, float)]
        if numeric:
            k = rng.choice(numeric)
            v = args[k]
            args[k] = float(v) if type(v) is int else (int(v) if float(v).is_integer() else round(v))
    elif kind == "string_variant":
        strings = [k for k in keys if isinstance(args[k], str) and args[k]]
        lists = [k for k in keys if isinstance(args[k], list) and any(isinstance(x, str) for x in args[k])]
        if strings and (not lists or rng.random() < 0.7):
            k = rng.choice(strings)
            args[k] = _alter_string(args[k], rng)[0]
        elif lists:
            k = rng.choice(lists)
            args[k] = [_alter_string(x, rng)[0] if isinstance(x, str) and x else x for x in args[k]]
    elif kind == "missing_required":
        req = [k for k in tool["parameters"].get("required", []) if k in args]
        if req:
            del args[rng.choice(req)]
    elif kind == "missing_any" and key:
        del args[key]
    elif kind == "extra_param":
        args[rng.choice(["extra", "verbose", "unit", "format"]) + rng.choice(["", "_x"])] = rng.choice(
            [1, "a", True]
        )
    elif kind == "extra_schema_param":
        unused = [k for k in props if k not in args]
        if unused:
            k = rng.choice(unused)
            args[k] = _sample_for_type(props[k], rng)
    elif kind == "wrong_name":
        calls[i] = ToolCall(
            rng.choice([call.name + "_v2", call.name.upper(), call.name.replace(".", "_")]), args
        )
    elif kind == "other_tool_name":
        others = [t["name"] for t in case.tools if t["name"] != call.name]
        if others:
            calls[i] = ToolCall(rng.choice(others), args)
    elif kind == "drop_call":
        del calls[i]
    elif kind == "duplicate_call":
        calls.insert(i, ToolCall(call.name, copy.deepcopy(args)))
    elif kind == "reorder":
        rng.shuffle(calls)
    elif kind == "tuple_value":
        lists = [k for k in keys if isinstance(args[k], list)]
        if lists:
            k = rng.choice(lists)
            args[k] = tuple(args[k])
    elif kind == "none_value" and key:
        args[key] = None
    elif kind == "tricky_value" and key:
        v = rng.choice(TRICKY_VALUES)
        if isinstance(args[key], list) and args[key] and rng.random() < 0.5:  # inside a list
            j = rng.randrange(len(args[key]))
            args[key] = args[key][:j] + [copy.deepcopy(v)] + args[key][j + 1 :]
        else:
            args[key] = copy.deepcopy(v)
    elif kind == "empty_string" and key:
        args[key] = rng.choice(["", [], " "])
    return calls


def _sample_for_type(schema: dict[str, Any], rng: random.Random) -> Any:
    if "enum" in schema and schema["enum"]:
        return rng.choice(schema["enum"])
    return {
        "string": "value",
        "integer": 1,
        "float": 1.5,
        "boolean": True,
        "array": ["a"],
        "tuple": [1, 2],
        "dict": {"k": "v"},
        "any": "anything",
    }.get(schema.get("type"), "value")


def make_pairs(cases: list[Case], per_case: int = 10, seed: int = 0) -> list[Pair]:
    """`per_case` pairs per BFCL entry: derived outputs and perturbations (one or two at a time)."""
    rng = random.Random(seed)
    pairs = []
    for case in cases:
        base_first = derive_calls(case, rng, "first")
        pairs.append(Pair(case, base_first, "derived_first"))
        pairs.append(Pair(case, derive_calls(case, rng, "any"), "derived_any"))
        for _ in range(per_case - 2):
            base = base_first if rng.random() < 0.5 else derive_calls(case, rng, "any")
            kinds = [rng.choice(PERTURBATIONS) for _ in range(1 if rng.random() < 0.8 else 2)]
            calls = base
            for kind in kinds:
                calls = perturb(case, calls, rng, kind)
            pairs.append(Pair(case, calls, "+".join(kinds)))
    return pairs
