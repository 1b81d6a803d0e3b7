"""BFCL v4 data and the official AST checker, as a test oracle for `rewards.ast_match` (never run time).

Used by the differential test (tests/rewards/test_ast_differential.py) and by `launch/benchmarks/rewards.py`:
- `load_cases()` reads every BFCL v4 Python AST category (non-live and live) from the `bfcl-eval` wheel;
- `make_pairs()` derives model outputs from the ground truth (first or other acceptable values, omitted
  optionals, reordered calls) and perturbs them systematically (wrong value, wrong type, missing
  required, extra parameter, wrong name, dropped or duplicated call, int vs float, string case and
  punctuation, ...), seeded;
- `make_source_pairs()` does the same for BFCL's Java and JavaScript categories (`SOURCE_CATEGORIES`), whose
  arguments are strings of source text: each acceptable value written as Java/JavaScript source in several
  styles, and perturbations that hit BFCL's type rules (see its docstring);
- `official_checker()` imports bfcl-eval's `ast_checker`; `official_source_checker()` runs it with
  `Language.JAVA` / `Language.JAVASCRIPT` and returns the verdict and the error type. The checker module
  imports a model-config module which pulls in every vendor SDK; a stand-in with one model entry (no
  `.` -> `_` name rewriting) replaces it in `sys.modules` for the import only.

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
    ast_checker, language = _import_official()
    return ast_checker, language.PYTHON


def _import_official() -> tuple[Callable[..., dict[str, Any]], Any]:
    """bfcl-eval's `ast_checker` and its `Language` enum, with the model-config stand-in."""
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
    return ast_checker, Language


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


# ---------------------------------------------------------------------------------------------------
# Java and JavaScript: arguments are strings of source text
# ---------------------------------------------------------------------------------------------------

SOURCE_CATEGORIES = ("simple_java", "simple_javascript")
LANGUAGE_OF = {"simple_java": "java", "simple_javascript": "javascript"}

# BFCL's error type -> toolgym's (`rewards.ast_match.ERROR_TYPES`). BFCL's wrong_count is toolgym's no_call
# when there is no call at all (`ours_of_official`).
OURS_OF_OFFICIAL = {
    "simple_function_checker:wrong_count": "wrong_count",
    "simple_function_checker:wrong_func_name": "wrong_name",
    "simple_function_checker:missing_required": "missing_required",
    "simple_function_checker:unexpected_param": "unexpected_param",
    "simple_function_checker:missing_optional": "missing_optional",
    "type_error:java": "java_type_error",
    "type_error:js": "js_type_error",
    "type_error:simple": "type_error",
    "type_error:nested": "nested_type_error",
    "value_error:string": "string_value_error",
    "value_error:list/tuple": "list_value_error",
    "value_error:dict_key": "dict_key_error",
    "value_error:dict_value": "dict_value_error",
    "dict_checker:unclear": "dict_value_error",
    "value_error:list_dict_count": "list_dict_count_error",
    "value_error:others": "value_error",
}


def ours_of_official(error_type: str | None, pair: Pair) -> str | None:
    """toolgym's name for BFCL's error type on this pair (None when BFCL found no error)."""
    if error_type is None:
        return None
    if error_type == "simple_function_checker:wrong_count" and not pair.calls:
        return "no_call"
    return OURS_OF_OFFICIAL[error_type]


def official_source_checker() -> Callable[[Pair], tuple[bool, str | None]]:
    """Returns `result(pair) -> (valid, BFCL error type or None)`: bfcl-eval's `ast_checker` with the
    language of the pair's category (Java or JavaScript)."""
    import contextlib
    import io

    ast_checker, language = _import_official()
    languages = {"simple_java": language.JAVA, "simple_javascript": language.JAVASCRIPT}

    def result(pair: Pair) -> tuple[bool, str | None]:
        c = pair.case
        with contextlib.redirect_stdout(io.StringIO()):  # its JS object parser prints on failure
            out = ast_checker(c.tools, pair.bfcl_output(), c.ground_truth, languages[c.category], c.category,
                              ORACLE_MODEL)
        return out["valid"], None if out["valid"] else out["error_type"]

    return result


# What a Java array of items of each declared type is written as (`new int[]{...}`).
_JAVA_ARRAY_NAME = {"integer": "int", "long": "long", "String": "String", "char": "char", "any": "Object",
                    "double": "double", "float": "float", "boolean": "boolean", "byte": "byte", "short": "short"}
_JAVA_BOXED = {"integer": "Integer", "long": "Long", "String": "String", "char": "Character", "any": "Object"}


def _param(case: Case, name: str) -> tuple[str, str | None]:
    """A parameter's declared type and item type ("" when the parameter is not in the schema)."""
    schema = case.tools[0]["parameters"]["properties"].get(name, {})
    items = schema.get("items")
    return schema.get("type", ""), items.get("type") if isinstance(items, dict) else None


def _pick(values: list[Any], rng: random.Random, mode: str) -> tuple[bool, Any]:
    """An acceptable value: the first that is not "" (mode "first") or a random one; (False, None) for ""."""
    if mode == "first":
        return _first_value(values)
    v = rng.choice(values) if values else ""
    return not (isinstance(v, str) and v == ""), v


def _java_literal_text(v: Any, rng: random.Random) -> str:
    """A value written so that Java read by its look (no declared type) gives it back."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, float):
        return rng.choice([repr(v), f"{v!r}f"])
    return str(v)


def _js_literal_text(v: Any, rng: random.Random) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        q = rng.choice(['"', "'"])
        return f"{q}{v}{q}"
    if isinstance(v, list):
        return "[" + ", ".join(_js_literal_text(x, rng) for x in v) + "]"
    if isinstance(v, dict):
        return _js_object_text({k: [x] for k, x in v.items()}, rng, "first")
    return str(v)


def _sep(rng: random.Random) -> str:
    return rng.choice([", ", ",", " , "])


def encode(v: Any, language: str, declared: str, item: str | None, rng: random.Random, mode: str = "first") -> str:
    """A possible-answer value written as the source text that BFCL reads back as that value, in a random style.

    A string answer for a non-string type is a variable name or an expression, written as it is. `mode`
    picks the acceptable values of dict entries ("first" or "any").
    """
    if isinstance(v, str):
        if language == "javascript" and declared == "String" and rng.random() < 0.5:
            q = rng.choice(['"', "'"])
            return f"{q}{v}{q}"
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if language == "java":
        if declared == "long":
            return f"{v}{rng.choice('Ll')}"
        if declared == "float":
            return f"{v}{rng.choice('fF')}"
        if declared == "Array":
            body = _sep(rng).join(
                x if isinstance(x, str) and item else (encode(x, language, item, None, rng) if item else
                                                       _java_literal_text(x, rng)) for x in v)
            return f"new {_JAVA_ARRAY_NAME.get(item or 'any', 'Object')}[]{{{body}}}"
        if declared == "ArrayList":
            elems = [f'"{x}"' if item in ("String", "char") else
                     (encode(x, language, item, None, rng) if item else _java_literal_text(x, rng)) for x in v]
            boxed = rng.choice(["", _JAVA_BOXED.get(item or "any", "Object")])
            if not elems:
                return f"new ArrayList<{boxed}>()"
            if rng.random() < 0.5:
                return f"new ArrayList<{boxed}>(Arrays.asList({_sep(rng).join(elems)}))"
            return f"new ArrayList<{boxed}>() {{{{ " + " ".join(f"add({e});" for e in elems) + " }}"
        if declared == "HashMap":
            puts = []
            for k, values in v.items():
                ok, x = _pick(values, rng, mode) if isinstance(values, list) else (True, values)
                if ok:
                    puts.append(f'put("{k}", {_java_literal_text(x, rng)});')
            return "new HashMap<String, Object>() {{ " + " ".join(puts) + " }}"
        return str(v)
    if declared == "Bigint":
        return f"{v}n"
    if declared == "float" and isinstance(v, float) and v.is_integer() and rng.random() < 0.5:
        return str(int(v))
    if declared == "array":
        elems = [encode(x, language, item, None, rng) if item and not isinstance(x, list) else _js_literal_text(x, rng)
                 for x in v]
        if item == "String":
            elems = [_js_literal_text(x, rng) if isinstance(x, str) else e for x, e in zip(v, elems, strict=True)]
        body = _sep(rng).join(elems)
        return f"new Array({body})" if rng.random() < 0.2 else f"[{body}]"
    if declared == "dict":
        return _js_object_text(v, rng, mode)
    return str(v)


def _js_object_text(d: dict[str, Any], rng: random.Random, mode: str) -> str:
    if not d:
        return "{}"
    entries = []
    for k, values in d.items():
        ok, x = _pick(values, rng, mode) if isinstance(values, list) else (True, values)
        if ok:
            key = rng.choice([k, f'"{k}"', f"'{k}'"])
            entries.append(f"{key}: {_js_literal_text(x, rng)}")
    return "{" + ", ".join(entries) + "}"


def derive_source_call(case: Case, rng: random.Random, mode: str = "first",
                       chosen: dict[str, Any] | None = None) -> ToolCall:
    """The ground truth written as a Java/JavaScript call: each argument an acceptable value as source text.

    `chosen` fixes some arguments' acceptable values (others follow `mode`, as in `derive_calls`).
    """
    language = LANGUAGE_OF[case.category]
    ((name, args),) = case.ground_truth[0].items()
    out = {}
    for k, values in args.items():
        ok, v = (True, chosen[k]) if chosen and k in chosen else _pick(values, rng, mode)
        if ok:
            declared, item = _param(case, k)
            out[k] = encode(copy.deepcopy(v), language, declared, item, rng, mode)
    return ToolCall(name, out)


# Source text of every kind, for a parameter of any declared type.
WRONG_TYPE_TEXTS = (
    "5", "-3", "0", "5.0", "2.5", "5L", "5l", "5f", "2.5F", "1e3", "1e3f", "5n", "true", "false", "True", "1",
    "'a'", '"a"', "a", "null", "", " ", "new int[]{1, 2}", "new String[]{\"a\", \"b\"}",
    "new ArrayList<>(Arrays.asList(1, 2))", "new ArrayList<>()", "[1, 2]", "['a', 'b']", "[[1, 2], [3, 4]]",
    "new Array(1, 2)", "{a: 1}", "{}", 'new HashMap<String, Object>() {{ put("a", 1); }}', "new HashMap<>()",
    "+5", "1_000", "NaN", "Infinity", "0x1F",
)

SOURCE_PERTURBATIONS = (
    "not_a_string",
    "null",
    "wrong_type_text",
    "int_vs_float",
    "bool_text",
    "quote",
    "unquote",
    "collection_syntax",
    "element",
    "map_entry",
    "char",
    "wrong_value",
    "whitespace",
    "variable",
    "missing_required",
    "missing_any",
    "extra_param",
    "extra_schema_param",
    "wrong_name",
    "drop_call",
    "duplicate_call",
)

_COLLECTIONS = {"java": ("Array", "ArrayList", "HashMap"), "javascript": ("array", "dict")}


def _perturb_text(kind: str, text: str, v: Any, case: Case, key: str, rng: random.Random) -> Any:
    """The argument `key` (source text `text`, acceptable value `v`) under perturbation `kind`."""
    import re

    language = LANGUAGE_OF[case.category]
    declared, item = _param(case, key)
    if kind == "not_a_string":
        return rng.choice([v if not isinstance(v, str) else [v], 5, 2.5, True, False, None, [text], {"k": text}])
    if kind == "null":
        return rng.choice(["null", "undefined", "None", None])
    if kind == "wrong_type_text":
        return rng.choice(WRONG_TYPE_TEXTS)
    if kind == "int_vs_float":
        ops = [
            lambda t: re.sub(r"(?<![\w.])(-?\d+)(?![\w.])", r"\1.0", t),  # integers get a fraction
            lambda t: re.sub(r"(\d+)\.\d+", r"\1", t),  # fractions go
            lambda t: re.sub(r"(\d)[LlfFn]\b", r"\1", t),  # suffixes go
            lambda t: re.sub(r"(?<![\w.])(-?\d+(\.\d+)?)(?![\w.])", r"\1" + rng.choice("LfFn"), t),  # or come
            lambda t: re.sub(r"(?<![\w.])(-?\d+(\.\d+)?)(?![\w.])", r"\1" + rng.choice(["e0", "E1", "e-1"]), t),
        ]
        return rng.choice(ops)(text)
    if kind == "bool_text":
        if text in ("true", "false"):
            return rng.choice(["false" if text == "true" else "true", text.title(), text.upper(), "1", "0",
                               f'"{text}"'])
        return rng.choice(["true", "false", "True"])
    if kind == "quote":
        q = rng.choice(['"', "'"])
        if isinstance(v, list) and rng.random() < 0.7:  # each element quoted, as a model may write a String[]
            return encode([f"{q}{x}{q}" for x in v], language, declared, item, rng)
        return f"{q}{text}{q}"
    if kind == "unquote":
        return text.replace('"', "").replace("'", "")
    if kind == "collection_syntax":  # the value spelt as another collection of the language
        other = rng.choice([t for t in _COLLECTIONS[language] if t != declared])
        value = v if isinstance(v, (list, dict)) else [v]
        if other in ("HashMap", "dict") and not isinstance(value, dict):
            value = {f"k{i}": [x] for i, x in enumerate(value)}
        if other not in ("HashMap", "dict") and isinstance(value, dict):
            value = [x[0] if isinstance(x, list) and x else x for x in value.values()]
        return encode(value, language, other, item if other in ("Array", "ArrayList", "array") else None, rng)
    if kind == "element" and isinstance(v, list):
        w = list(v)
        choice = rng.randrange(7)
        if choice == 5 and w:  # an item of another type: a word, or a number as a string
            i = rng.randrange(len(w))
            w[i] = str(w[i]) if not isinstance(w[i], str) else rng.choice(["x", 5, 2.5, True])
        elif choice == 6 and w:  # an item of another type written by hand
            i = rng.randrange(len(w))
            w[i] = rng.choice(["x", "'x'", '"x"', "5", "5L", "2.5", "2.5f", "true"])
            raw = encode(w, language, declared, item, rng)
            return raw.replace(f'"{w[i]}"', w[i], 1) if item not in ("String", "char") else raw
        elif choice == 0 and w:
            w.pop()
        elif choice == 1:
            w.reverse()
        elif choice == 2:
            w.append(w[0] if w else "x")
        elif choice == 3 and w:  # an element with a comma in it: BFCL splits on every comma
            w[rng.randrange(len(w))] = "a, b"
        elif w:
            i = rng.randrange(len(w))
            w[i] = _wrong_value(w[i], rng)
        return encode(w, language, declared, item, rng)
    if kind == "map_entry" and isinstance(v, dict):
        d = dict(v)
        choice = rng.randrange(3)
        if choice == 0 and d:
            d.pop(rng.choice(list(d)))
        elif choice == 1:
            d["extraKey"] = ["x"]
        elif d:
            k = rng.choice(list(d))
            d[k] = [_wrong_value(_first_value(d[k])[1], rng)] if isinstance(d[k], list) else d[k]
        return encode(d, language, declared, item, rng)
    if kind == "char":
        if isinstance(v, list):  # the items as chars
            body = ", ".join(f"'{str(x)[:1]}'" for x in v)
            return rng.choice([f"new char[]{{{body}}}", f"new ArrayList<Character>(Arrays.asList({body}))", f"[{body}]"])
        return rng.choice([f"'{text[:1]}'", text[:1], f"'{text}'"])
    if kind == "wrong_value":
        if isinstance(v, (bool, int, float, list, dict)):
            return encode(_wrong_value(v, rng), language, declared, item, rng)
        return _alter_string(text, rng)[0] if text else "x"
    if kind == "whitespace":
        return rng.choice([f" {text}", f"{text} ", f"{text}\n", text.replace(", ", ","), text.replace(",", " , "),
                           text.replace("{", "{ ").replace("}", " }")])
    if kind == "variable":
        if isinstance(v, str):
            return rng.choice([v + "2", v.upper(), v.lower(), "this." + v])
        return rng.choice(["someVariable", "value", "obj.field"])
    return text


_NUMERIC = ("byte", "short", "integer", "long", "float", "double", "Bigint")


def type_rule_texts(case: Case, key: str, v: Any, rng: random.Random) -> list[str]:
    """Ways to spell acceptable value `v` of argument `key` that BFCL's type rules may or may not read as it.

    Numbers with and without fraction, suffixes (L, f, n), exponents, quotes and signs; booleans in other
    cases or as 1/0; strings quoted either way or as a char; lists and maps in every collection spelling of
    the language, with elements bare, quoted or suffixed; JavaScript objects with quoted keys or as JSON.
    """
    language = LANGUAGE_OF[case.category]
    declared, item = _param(case, key)
    if isinstance(v, bool):
        t = "true" if v else "false"
        return [t, t.title(), t.upper(), str(int(v)), f'"{t}"', f"'{t}'", f" {t}"]
    if isinstance(v, (int, float)):
        n = repr(v)
        whole = str(int(v)) if float(v).is_integer() else n
        return [whole, f"{whole}.0", n, f"{n}L", f"{whole}l", f"{n}f", f"{whole}F", f"{whole}n", f"{n}e0",
                f"{whole}E1", f'"{n}"', f"'{whole}'", f"+{whole}", f"-{whole}", f" {n}", f"{n}d"]
    if isinstance(v, str):
        return [v, f'"{v}"', f"'{v}'", f"'{v[:1]}'", v.upper(), f" {v} ", f"{v};"]
    if isinstance(v, list):
        names = {"java": ("Array", "ArrayList"), "javascript": ("array",)}[language]
        spellings = [encode(v, language, t, item, rng) for t in names for _ in range(2)]
        for q in ('"', "'", ""):
            elems = ", ".join(f"{q}{x}{q}" for x in v)
            spellings += [f"[{elems}]", f"{{{elems}}}", f"new Array({elems})", f"[[{elems}]]",
                          f"new {_JAVA_ARRAY_NAME.get(item or 'any', 'Object')}[]{{{elems}}}",
                          f"new ArrayList<>(Arrays.asList({elems}))", f"Arrays.asList({elems})"]
        longs = ", ".join(f"{x}L" for x in v)
        spellings += [f"new long[]{{{longs}}}", f"new ArrayList<Long>(Arrays.asList({longs}))"]
        return spellings
    if isinstance(v, dict):
        first = {k: _first_value(x)[1] if isinstance(x, list) else x for k, x in v.items()}
        if language == "java":
            puts = " ".join(f'put("{k}", {_java_literal_text(x, rng)});' for k, x in first.items())
            return [encode(v, language, "HashMap", None, rng), f"new HashMap<>() {{ {puts} }}",
                    f"new HashMap<String, String>() {{{{{puts}}}}}", "new HashMap<>()", json.dumps(first),
                    puts.replace('"', "'")]
        return [encode(v, language, "dict", None, rng), json.dumps(first), json.dumps(first).replace('"', "'"),
                "{" + ", ".join(f"{k}: {x}" for k, x in first.items()) + "}", "{}", f"new Map({json.dumps(first)})",
                json.dumps(first)[:-1] + ", }"]
    return [str(v)]


def _applies(kind: str, case: Case, key: str, v: Any) -> bool:
    """Whether perturbation `kind` is about an argument like `key` (value `v`)."""
    declared, _ = _param(case, key)
    if kind in ("element", "char"):
        return isinstance(v, list)
    if kind == "map_entry":
        return isinstance(v, dict)
    if kind == "int_vs_float":
        return declared in _NUMERIC or (isinstance(v, list) and any(type(x) in (int, float) for x in v))
    if kind == "bool_text":
        return declared in ("boolean", "Boolean")
    if kind == "quote":
        return isinstance(v, list) or declared in ("String", "char")
    if kind == "collection_syntax":
        return isinstance(v, (list, dict))
    return True


def make_source_pairs(cases: list[Case], per_case: int = 20, seed: int = 0) -> list[Pair]:
    """Pairs for BFCL's Java and JavaScript cases: derived calls, then `per_case` perturbed ones per case.

    Derived: the first acceptable values (kind "derived_first"), every other acceptable value of each
    argument ("derived_each"), and random acceptable values in random styles ("derived_any"). Perturbed: one
    or two of `SOURCE_PERTURBATIONS` on a derived call; the text ones hit BFCL's type rules (type-mismatched
    text, int vs float, booleans, quoting, collection spellings and elements, map entries, chars, nulls,
    non-string values), the others the call's shape (as `perturb`).
    """
    rng = random.Random(seed)
    pairs = []
    for case in cases:
        pairs.append(Pair(case, [derive_source_call(case, rng, "first")], "derived_first"))
        ((_, args),) = case.ground_truth[0].items()
        for k, values in args.items():
            has_first, first = _first_value(values)
            for v in values:
                if has_first and v is first:
                    continue  # derived_first has it
                chosen = {k: v}
                call = derive_source_call(case, rng, "first", chosen)
                if isinstance(v, str) and v == "":
                    del call.arguments[k]
                pairs.append(Pair(case, [call], "derived_each"))
        pairs.append(Pair(case, [derive_source_call(case, rng, "any")], "derived_any"))
        base = derive_source_call(case, rng, "first")
        for k, values in args.items():
            has_first, first = _first_value(values)
            if has_first:
                for text in type_rule_texts(case, k, first, rng):
                    pairs.append(Pair(case, [ToolCall(base.name, {**base.arguments, k: text})], "type_rule"))
        for _ in range(per_case):
            mode = "first" if rng.random() < 0.5 else "any"
            values_used: dict[str, Any] = {}
            for k, values in args.items():
                ok, v = _pick(values, rng, mode)
                if ok:
                    values_used[k] = v
            call = derive_source_call(case, rng, mode, values_used)
            call.arguments = {k: t for k, t in call.arguments.items() if k in values_used}
            calls = [call]
            kinds = [rng.choice(SOURCE_PERTURBATIONS) for _ in range(1 if rng.random() < 0.8 else 2)]
            for kind in kinds:
                if kind in PERTURBATIONS:  # the call's shape: missing, extra, renamed, dropped, duplicated
                    calls = perturb(case, calls, rng, kind)
                elif calls and calls[0].arguments:
                    args_now = calls[0].arguments
                    keys = list(args_now)
                    # Prefer an argument the perturbation is about (a collection for "element", ...).
                    fit = [k for k in keys if _applies(kind, case, k, values_used.get(k))]
                    key = rng.choice(fit or keys)
                    text = args_now[key] if isinstance(args_now[key], str) else ""
                    args_now[key] = _perturb_text(kind, text, values_used.get(key, text), case, key, rng)
            pairs.append(Pair(case, calls, "+".join(kinds)))
    return pairs
