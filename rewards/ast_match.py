"""AST match: BFCL's AST-checker verdict, exactly, plus partial credit for reward shaping.

`check(tools, calls, ground_truth)` compares the calls a policy made in one user turn with the turn's
ground truth in BFCL's possible-answer form (`[{function_name: {arg: [acceptable values]}}]`).

The strict verdict (`valid`) reproduces `bfcl_eval.eval_checker.ast_eval.ast_checker` for Python on
every BFCL v4 AST category, without a category argument: BFCL's simple, multiple and parallel checkers
agree on their own data with its parallel "no order" checker, so that one rule is applied to all:

- the number of calls must equal the number of expected calls; the calls are matched to the expected
  calls in any order, greedily as BFCL does (each expected call, in order, takes the first still
  unmatched call that passes; the tool schema is looked up by the expected call's name);
- the function name must match exactly (no `.` -> `_` rewriting: our formats can write dotted names);
- every parameter the schema marks required must be present; every argument must be both in the schema
  and in the possible answer; an argument of the possible answer may be omitted only when `""` is among
  its acceptable values;
- types are checked as BFCL does: an int passes for a float (and is compared as a float); a tuple
  passes for a `tuple` parameter (BFCL compares it as a list); the items of arrays are type-checked one
  level deep; a value whose type matches the acceptable values' type (BFCL's "variable" case) passes
  the type check and is then compared exactly;
- strings are compared after BFCL's standardisation (spaces and `,./-_*^` removed, lower-cased,
  `'` -> `"`), also inside lists and dict values; lists compare in order; dicts key by key.

Java and JavaScript (`language="java"` / `"javascript"`, BFCL's simple_java and simple_javascript): the
tools are the function docs with their Java/JavaScript type names, and every argument must be a string of
source text (else `java_type_error` / `js_type_error`), which is read as the parameter's declared type by
BFCL's rules (`rewards.source_types`) before the checks above. Java and JavaScript skip the int -> float
promotion and the tuple rule (no converted value can need them). `task_rules(task)` gives a task's tools
and language.

An empty ground truth (an irrelevance or missing-parameter turn) passes iff there is no call; that is
BFCL's irrelevance rule, decided here from the data rather than from a category name.

Beyond BFCL (whose checker would crash on these): a parameter whose schema type is missing or not a
BFCL/JSON-schema type name is compared like a value of its own type; an expected function that is not
among the tools is checked against its possible answer alone. JSON-schema names map to BFCL's:
object -> dict, number -> float (tools normalised by `envs.schema` keep the BFCL type in `x-bfcl-type`).

Partial credit (`score`): each (call, expected call) pair gets a similarity in [0, 1]: 0 for a
different name, else 0.2 + 0.3 * key credit + 0.5 * value credit, where both credits are fractions of
the keys that matter (allowed arguments given, plus required or non-omittable ones missing, plus
unexpected ones). The best one-to-one assignment (Hungarian) is summed and divided by
max(#calls, #expected), so extra, repeated or missing calls cost credit. `score == 1.0` iff `valid`
(an invalid score is capped at 0.99: BFCL's greedy matching can miss a perfect assignment).

Error taxonomy (`error_type`; the BFCL error type it corresponds to in brackets):
    unexpected_call        calls were made but the ground truth is empty [irrelevance_error:decoder_success]
    no_call                calls were expected but none was made [*:wrong_count]
    wrong_count            the number of calls differs from the number expected [*:wrong_count]
    wrong_name             no call has the expected function name [wrong_func_name / cannot_find_match]
    missing_required       a required parameter is absent [simple_function_checker:missing_required]
    unexpected_param       an argument outside the schema or the possible answer [...:unexpected_param]
    missing_optional       an argument of the possible answer is absent and "" is not acceptable
                           [simple_function_checker:missing_optional]
    java_type_error        a Java argument that is not a string of source text [type_error:java]
    js_type_error          a JavaScript argument that is not a string of source text [type_error:js]
    type_error             a value of the wrong type [type_error:simple]
    nested_type_error      a list whose items have the wrong type [type_error:nested]
    string_value_error     a string not acceptable after standardisation [value_error:string]
    list_value_error       a list not acceptable [value_error:list/tuple]
    dict_key_error         a dict with an unexpected or missing key [value_error:dict_key]
    dict_value_error       a dict with an unacceptable value [value_error:dict_value, dict_checker:unclear]
    list_dict_count_error  a list of dicts of the wrong length [value_error:list_dict_count]
    value_error            any other unacceptable value: number, bool, None, variable [value_error:others]
For several expected calls, the error reported is the one of the closest unmatched call to the first
expected call that found no match (BFCL reports `cannot_find_match` with every sub-error).

Tool lists and ground truths are treated as immutable: their preprocessing is cached by object identity,
because an RL step scores many generations of the same task.
"""

from __future__ import annotations

from typing import Any

from envs.types import Episode, Task, ToolCall
from rewards import source_types
from rewards.assignment import max_assignment
from rewards.expect import turn_expectation
from rewards.types import RewardResult

ERROR_TYPES: dict[str, str] = {
    "unexpected_call": "calls were made but the ground truth is empty (no call is right)",
    "no_call": "calls were expected but none was made",
    "wrong_count": "the number of calls differs from the number of expected calls",
    "wrong_name": "no call has the expected function name",
    "missing_required": "a parameter the schema marks required is absent",
    "unexpected_param": "an argument that is not in the schema or not in the possible answer",
    "missing_optional": 'an argument of the possible answer is absent and "" is not among its values',
    "java_type_error": "a Java argument that is not a string of source text",
    "js_type_error": "a JavaScript argument that is not a string of source text",
    "type_error": "a value of the wrong type",
    "nested_type_error": "a list whose items have the wrong type",
    "string_value_error": "a string that is not acceptable after standardisation",
    "list_value_error": "a list that is not acceptable",
    "dict_key_error": "a dict with an unexpected or a missing key",
    "dict_value_error": "a dict with an unacceptable value",
    "list_dict_count_error": "a list of dicts of the wrong length",
    "value_error": "any other unacceptable value (number, bool, None, variable name)",
}

# Below 1.0 so that `score == 1.0` iff `valid`, even in the rare case where a perfect assignment exists
# but BFCL's greedy matching misses it (overlapping acceptable values between expected calls).
_BELOW_FULL = 0.99
_LANGUAGES = ("python", "java", "javascript")
_CACHE_MAX = 4096

# BFCL's Python type mapping, extended with the JSON-schema names our normalised tools use.
_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}

# BFCL's standardize_string: re.sub(r"[ \,\.\/\-\_\*\^]", "", s).lower().replace("'", '"'). One
# translate() does the deletion and the quote swap (no character lower-cases to any of these).
_STD_TABLE = str.maketrans({**{c: None for c in " ,./-_*^"}, "'": '"'})


def standardize_string(s: str) -> str:
    """BFCL's string standardisation (so "April 1, 2024" equals "april 1 2024")."""
    return s.translate(_STD_TABLE).lower()


def _std(x: Any) -> Any:
    return x.translate(_STD_TABLE).lower() if type(x) is str else x


def _std_seq(seq: Any) -> list[Any] | None:
    """BFCL standardises a possible answer by indexing it: lists and strings work, anything else crashed."""
    if type(seq) is list or type(seq) is str:
        return [_std(x) for x in seq]
    return None


def _first_type(values: list[Any]) -> type | None:
    """BFCL's get_possible_answer_type: the type of the first acceptable value that is not ""."""
    for v in values:
        if v != "":
            return type(v)
    return None


# ---------------------------------------------------------------------------------------------------
# Preprocessed tools and ground truth (cached by object identity; built lazily, piece by piece)
# ---------------------------------------------------------------------------------------------------


def _param_types(schema: Any) -> tuple[type | None, bool, type | None]:
    """A parameter schema's (Python type, whether BFCL calls it a tuple, Python type of its items).

    The Python type is None when the schema's type is missing or unknown: the value is then compared
    as a value of its own type.
    """
    if not isinstance(schema, dict):
        return None, False, None
    desc = schema.get("x-bfcl-type", schema.get("type"))
    if not isinstance(desc, str):
        return None, False, None
    nested = None
    if desc in ("array", "tuple"):
        items = schema.get("items")
        if isinstance(items, dict):
            item_type = items.get("x-bfcl-type", items.get("type"))
            nested = _PY_TYPES.get(item_type) if isinstance(item_type, str) else None
    return _PY_TYPES.get(desc), desc == "tuple", nested


class _Source:
    """How one Java/JavaScript parameter's source text is read: its declared type and item type."""

    __slots__ = ("language", "declared", "item", "error")

    def __init__(self, language: str, declared: str, item: str | None) -> None:
        self.language, self.declared, self.item = language, declared, item
        self.error = source_types.NOT_SOURCE_ERROR[language]

    def __call__(self, text: str) -> Any:
        return source_types.convert(text, self.language, self.declared, self.item)


def _source_types(schema: Any, language: str) -> tuple[tuple[type | None, bool, type | None], _Source]:
    """A Java/JavaScript parameter's (Python type, False, item Python type) and its reader.

    A declared type outside BFCL's table for the language (BFCL would crash) keeps the text and is
    compared like a value of its own type.
    """
    types = source_types.TYPES[language]
    desc = schema.get("type") if isinstance(schema, dict) else None
    desc = desc if isinstance(desc, str) else ""
    item = None
    if desc in source_types.ARRAY_TYPES[language]:
        items = schema.get("items")
        item = items.get("type") if isinstance(items, dict) and isinstance(items.get("type"), str) else None
    return (types.get(desc), False, types.get(item) if item else None), _Source(language, desc, item)


class _Tool:
    """One tool's parameter schemas (types parsed on first use) and required parameters."""

    __slots__ = ("schemas", "types", "required", "required_set", "language", "sources")

    def __init__(self, schemas: dict[str, Any], required: list[str], language: str = "python") -> None:
        self.schemas = schemas
        self.types: dict[str, tuple[type | None, bool, type | None]] = {}
        self.required = tuple(required)
        self.required_set = frozenset(required)
        self.language = language
        self.sources: dict[str, _Source] = {}  # Java/JavaScript only: each parameter's reader

    def param_types(self, name: str) -> tuple[type | None, bool, type | None]:
        t = self.types.get(name)
        if t is None:
            if self.language == "python":
                t = _param_types(self.schemas[name])
            else:
                t, self.sources[name] = _source_types(self.schemas[name], self.language)
            self.types[name] = t
        return t


class _ToolIndex:
    """Tools by name, found and parsed on first use (a task may offer many tools, a turn uses few)."""

    __slots__ = ("tools", "language", "parsed")

    def __init__(self, tools: list[dict[str, Any]], language: str = "python") -> None:
        self.tools = tools
        self.language = language
        self.parsed: dict[str, _Tool | None] = {}

    def get(self, name: str) -> _Tool | None:
        try:
            return self.parsed[name]
        except KeyError:
            pass
        tool = None
        for t in self.tools:  # the first tool of that name wins, as in BFCL's find_description
            fn = t["function"] if t.get("type") == "function" and isinstance(t.get("function"), dict) else t
            if fn.get("name") == name:
                params = fn.get("parameters") or {}
                required = [p for p in (params.get("required") or []) if isinstance(p, str)]
                tool = _Tool(params.get("properties") or {}, required, self.language)
                break
        self.parsed[name] = tool
        return tool


class _Answer:
    """The acceptable values of one argument; BFCL's standardised forms are computed on first use."""

    __slots__ = ("values", "pa_type", "strs", "_lists", "_dicts")

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.pa_type = _first_type(values)
        self.strs: frozenset[str] | None = None
        self._lists: list[list[Any]] | None = None
        self._dicts: list[Any] | None = None

    def std_strings(self) -> frozenset[str]:
        if self.strs is None:
            self.strs = frozenset([_std(v) for v in self.values if type(v) is str])
        return self.strs

    @property
    def lists(self) -> list[list[Any]]:
        if self._lists is None:
            self._lists = [s for s in map(_std_seq, self.values) if s is not None]
        return self._lists

    @property
    def dicts(self) -> list[Any]:
        """Per acceptable value: "" (skipped), None (not a dict), or (dict, {key: standardised values})."""
        if self._dicts is None:
            self._dicts = [_prep_dict(v) for v in self.values]
        return self._dicts


def _prep_dict(pa: Any) -> Any:
    if type(pa) is str and pa == "":
        return ""
    if type(pa) is not dict:
        return None
    return pa, {k: _std_seq(v) for k, v in pa.items()}


class _Expected:
    """One expected call, bound to the schema of its function in the tool list last used.

    `bound` maps each argument that is both in the schema and in the possible answer to
    (Python type, is a tuple, item type, acceptable values); any other argument is unexpected.
    """

    __slots__ = ("name", "raw", "must", "must_set", "index", "tool", "bound", "sources")

    def __init__(self, call: dict[str, Any]) -> None:
        ((self.name, self.raw),) = call.items()
        self.must = tuple(
            [k for k, v in self.raw.items() if "" not in v]
        )  # arguments that may not be omitted
        self.must_set = frozenset(self.must)
        self.index: _ToolIndex | None = None
        self.tool: _Tool | None = None
        self.bound: dict[str, tuple[type | None, bool, type | None, _Answer]] = {}
        self.sources: dict[str, _Source] = {}

    def bind(self, index: _ToolIndex) -> None:
        # An expected function missing from the tools is checked against its possible answer alone.
        tool = index.get(self.name) or _Tool({k: {} for k in self.raw}, [], index.language)
        bound = {}
        for k, values in self.raw.items():
            if k in tool.schemas:
                bound[k] = (*tool.param_types(k), _Answer(values))
        self.tool, self.bound = tool, bound
        self.sources = {k: tool.sources[k] for k in bound if k in tool.sources}
        self.index = index  # last: a reader that sees this index also sees its tool and arguments


_tool_cache: dict[int, tuple[Any, _ToolIndex, int]] = {}
_gt_cache: dict[int, tuple[Any, list[_Expected], int]] = {}


def _tool_index(tools: list[dict[str, Any]], language: str = "python") -> _ToolIndex:
    hit = _tool_cache.get(id(tools))
    if hit is not None and hit[0] is tools and hit[2] == len(tools) and hit[1].language == language:
        return hit[1]
    index = _ToolIndex(tools, language)
    if len(_tool_cache) >= _CACHE_MAX:
        _tool_cache.clear()
    # The entry keeps `tools` alive, so its id cannot be reused by another object while cached.
    _tool_cache[id(tools)] = (tools, index, len(tools))
    return index


def _expected_calls(ground_truth: list[dict[str, Any]]) -> list[_Expected]:
    hit = _gt_cache.get(id(ground_truth))
    if hit is not None and hit[0] is ground_truth and hit[2] == len(ground_truth):
        return hit[1]
    expected = [_Expected(c) for c in ground_truth]
    if len(_gt_cache) >= _CACHE_MAX:
        _gt_cache.clear()
    _gt_cache[id(ground_truth)] = (ground_truth, expected, len(ground_truth))
    return expected


def clear_caches() -> None:
    """Drops the preprocessed tools and ground truths (for benchmarks of the cold path)."""
    _tool_cache.clear()
    _gt_cache.clear()


# ---------------------------------------------------------------------------------------------------
# One argument value (BFCL's type_checker and value checkers)
# ---------------------------------------------------------------------------------------------------


def _check_value(
    value: Any, exp: type | None, is_tuple: bool, nested: type | None, ans: _Answer
) -> str | None:
    """Returns None if `value` is acceptable for the parameter, else the error type.

    Args:
        value: The model's argument value.
        exp, is_tuple, nested: The parameter's Python type, tuple flag and item type (`_param_types`).
        ans: The acceptable values.
    """
    vtype = type(value)
    # Fast paths: for these, every branch of the general rules below comes down to plain membership.
    if vtype is exp:
        if exp is int or exp is float or exp is bool:
            return None if value in ans.values else "value_error"
        if exp is str and value in ans.values:  # an acceptable string exactly as written
            return None
    elif vtype is int and exp is float:
        return None if float(value) in ans.values else "value_error"

    if exp is None:
        exp = vtype
    elif vtype is int and exp is float:  # BFCL: Python's int -> float promotion
        value = float(value)
        vtype = float
    elif vtype is tuple and is_tuple:  # BFCL compares tuples as lists
        value = list(value)
        vtype = list

    # Type check. BFCL treats a value of the acceptable values' type as a "variable": it passes the type
    # check and is compared exactly, without the string/list/dict special handling.
    pa_type = ans.pa_type
    if vtype is exp:
        if nested is not None and not _nested_types_ok(value, nested, ans.values):
            return "nested_type_error"
        if pa_type is None or pa_type is exp:
            if exp is str:
                strs = ans.strs if ans.strs is not None else ans.std_strings()
                return None if value.translate(_STD_TABLE).lower() in strs else "string_value_error"
            if exp is dict:
                return _check_dict(value, ans.dicts)
            if exp is list:
                if nested is dict:
                    return _check_list_of_dicts(value, ans.values)
                return None if [_std(x) for x in value] in ans.lists else "list_value_error"
    elif pa_type is None or vtype is not pa_type:
        return "type_error"
    return None if value in ans.values else "value_error"


def _nested_types_ok(value: list[Any], nested: type, values: list[Any]) -> bool:
    # BFCL: some acceptable value must accept every item's type; a non-list acceptable value (such as
    # "") accepts any items. An item passes if it has the schema's item type or the type of that
    # acceptable value's first item.
    for pa in values:
        if type(pa) is not list:
            return True
        item_type = _first_type(pa)
        if all(type(x) is nested or (item_type is not None and type(x) is item_type) for x in value):
            return True
    return False


def _check_dict(value: dict[str, Any], dicts: list[Any]) -> str | None:
    err = "dict_value_error"  # BFCL's "unclear": no acceptable dict to compare with
    for prepared in dicts:
        if prepared == "":
            continue
        if prepared is None:  # not a dict: BFCL would crash; treat as no match
            continue
        pa, std_pa = prepared
        err = None
        for key, v in value.items():
            if key not in pa:
                err = "dict_key_error"
                break
            acc = std_pa[key]
            if acc is None or _std(v) not in acc:
                err = "dict_value_error"
                break
        if err is None:
            for key, acc in pa.items():
                if key not in value and not _omittable(acc):
                    err = "dict_key_error"
                    break
        if err is None:
            return None
    return err


def _omittable(acc: Any) -> bool:
    # BFCL writes `"" in acc`; on a value that is not a container that raised, here it is "not omittable".
    return isinstance(acc, (list, str, dict, tuple)) and "" in acc


def _check_list_of_dicts(value: list[Any], values: list[Any]) -> str | None:
    err = "dict_value_error"
    for pa in values:
        if type(pa) is str and pa == "":
            pa = []  # BFCL indexes "" like an empty list: [] is acceptable when "" is
        elif type(pa) is not list:
            continue
        if len(value) != len(pa):
            err = "list_dict_count_error"
            continue
        err = None
        for item, item_pa in zip(value, pa, strict=True):
            err = _check_dict(item, [_prep_dict(item_pa)]) if type(item) is dict else "dict_value_error"
            if err is not None:
                break
        if err is None:
            return None
    return err


# ---------------------------------------------------------------------------------------------------
# One call against one expected call (BFCL's simple_function_checker), with partial credit
# ---------------------------------------------------------------------------------------------------

_WRONG_NAME = ("wrong_name", None, 0.0)
_MATCH = (None, None, 1.0)


def _compare(call: ToolCall, exp: _Expected, index: _ToolIndex) -> tuple[str | None, str | None, float]:
    """Returns (error type or None, offending parameter, similarity in [0, 1])."""
    if call.name != exp.name:
        return _WRONG_NAME
    if exp.index is not index:
        exp.bind(index)
    tool = exp.tool
    bound = exp.bound
    sources = exp.sources
    args = call.arguments
    keys = args.keys()
    err: str | None = None
    where: str | None = None
    missing = good = bad = correct = 0
    # BFCL's order of checks decides which error is reported: required, then each argument, then omissions.
    if not keys >= tool.required_set:  # type: ignore[union-attr]
        for p in tool.required:  # type: ignore[union-attr]
            if p not in args:
                missing += 1
                if err is None:
                    err, where = "missing_required", p
    for p, v in args.items():
        b = bound.get(p)
        if b is None:
            bad += 1
            if err is None:
                err, where = "unexpected_param", p
            continue
        good += 1
        if sources and p in sources:  # Java/JavaScript: source text, read as the declared type
            read = sources[p]
            e = read.error if type(v) is not str else _check_value(read(v), *b)
        else:
            e = _check_value(v, *b)
        if e is None:
            correct += 1
        elif err is None:
            err, where = e, p
    if not keys >= exp.must_set:
        for p in exp.must:
            if p not in args:
                if p not in tool.required_set:  # type: ignore[union-attr]
                    missing += 1
                if err is None:
                    err, where = "missing_optional", p
    if err is None:
        return _MATCH
    total = good + bad + missing
    return err, where, 0.2 + (0.3 * good + 0.5 * correct) / total


# ---------------------------------------------------------------------------------------------------
# The public check
# ---------------------------------------------------------------------------------------------------


def check(
    tools: list[dict[str, Any]],
    calls: list[ToolCall],
    ground_truth: list[dict[str, dict[str, list[Any]]]],
    language: str = "python",
) -> RewardResult:
    """Checks one turn's calls against its possible answers, as BFCL's AST checker does.

    Args:
        tools: The tool schemas offered (OpenAI or BFCL function-doc form); for Java and JavaScript, the
            function docs with their Java/JavaScript type names (`task_rules`).
        calls: The calls the policy made, in order.
        ground_truth: BFCL possible answers: `[{function_name: {arg: [acceptable values]}}]`;
            `[]` means no call is right.
        language: "python", "java" or "javascript": the language whose type rules BFCL applies.

    Returns:
        RewardResult with BFCL's strict verdict in `valid`, partial credit in `score`, an `error_type`
        from `ERROR_TYPES`, and `details` naming the failing expected call, call and parameter.
    """
    if language not in _LANGUAGES:
        raise ValueError(f"language must be one of {_LANGUAGES}, got {language!r}")
    # The two cache lookups are inlined: this function runs once per turn of every episode.
    hit = _gt_cache.get(id(ground_truth))
    if hit is not None and hit[0] is ground_truth and hit[2] == len(ground_truth):
        expected = hit[1]
    else:
        expected = _expected_calls(ground_truth)
    n_exp, n_calls = len(expected), len(calls)
    if n_exp == 0:
        if n_calls == 0:
            return RewardResult(1.0, True)
        return RewardResult(0.0, False, "unexpected_call", {"num_calls": n_calls})
    if n_calls == 0:
        return RewardResult(0.0, False, "no_call", {"num_expected": n_exp})

    hit_tools = _tool_cache.get(id(tools))
    if hit_tools is not None and hit_tools[0] is tools and hit_tools[2] == len(tools) and (
        hit_tools[1].language == language
    ):
        index = hit_tools[1]
    else:
        index = _tool_index(tools, language)
    if n_exp == 1 and n_calls == 1:  # the common case (simple, multiple): no matching to do
        err, where, sim = _compare(calls[0], expected[0], index)
        if err is None:
            return RewardResult(1.0, True)
        details = {"expected_index": 0, "call_index": 0, "function": expected[0].name, "parameter": where}
        return RewardResult(sim, False, err, details)

    # Strict verdict: BFCL's greedy matching, expected calls in order, first passing call wins.
    memo: list[tuple[str | None, str | None, float] | None] = [None] * (n_exp * n_calls)
    failed_at = None
    if n_calls == n_exp:
        taken = [False] * n_calls
        for i, exp in enumerate(expected):
            base = i * n_calls
            for j in range(n_calls):
                if taken[j]:
                    continue
                memo[base + j] = r = _compare(calls[j], exp, index)
                if r[0] is None:
                    taken[j] = True
                    break
            else:
                failed_at = i
                break
        if failed_at is None:
            return RewardResult(1.0, True)
        candidates = [j for j in range(n_calls) if not taken[j]]
    else:
        candidates = list(range(n_calls))

    # Partial credit: the best one-to-one assignment of calls to expected calls.
    for i, exp in enumerate(expected):
        base = i * n_calls
        for j in range(n_calls):
            if memo[base + j] is None:
                memo[base + j] = _compare(calls[j], exp, index)
    sims = [[memo[i * n_calls + j][2] for j in range(n_calls)] for i in range(n_exp)]  # type: ignore[index]
    total, matching = max_assignment(sims)
    score = min(total / max(n_exp, n_calls), _BELOW_FULL)

    details: dict[str, Any] = {"matching": matching, "num_calls": n_calls, "num_expected": n_exp}
    if failed_at is None:
        return RewardResult(score, False, "wrong_count", details)
    # Report the closest candidate's error for the first expected call that found no match.
    row = sims[failed_at]
    j = max(candidates, key=row.__getitem__)
    err, where, _ = memo[failed_at * n_calls + j]  # type: ignore[misc]
    details.update(expected_index=failed_at, call_index=j, function=expected[failed_at].name, parameter=where)
    return RewardResult(score, False, err, details)


def task_rules(task: Task) -> tuple[list[dict[str, Any]], str]:
    """The tools to check a task's calls against, and the language whose type rules apply.

    A BFCL Java or JavaScript task (`envs.bfcl`) shows the policy its tools with every parameter typed
    as a string of source text; the declared Java/JavaScript types that BFCL checks with are kept in
    `metadata["bfcl_typed_tools"]`, and the language in `metadata["bfcl_language"]`. Any other task:
    its own tools, Python rules.
    """
    language = task.metadata.get("bfcl_language", "python")
    if language == "python":
        return task.tools, language
    return task.metadata["bfcl_typed_tools"], language


def check_episode(task: Task, episode: Episode) -> RewardResult:
    """The `ast` component: `check` on every user turn of an episode.

    Turn k compares `episode.calls(k)` (all steps of the turn, so multi-step calls count together)
    with `task.ground_truth[k]`, with the tools and language of `task_rules(task)`. Valid iff every turn is valid; score: the mean over
    turns, each turn's score in `details["turn_scores"]`. A turn where any call is right (BFCL live_relevance, see rewards/expect.py) passes with
    at least one call.
    """
    tools, language = task_rules(task)
    results = []
    for turn, gt in enumerate(task.ground_truth):
        calls = episode.calls(turn)
        if turn_expectation(task, turn) == "any":
            results.append(RewardResult(1.0, True) if calls else RewardResult(0.0, False, "no_call"))
        else:
            results.append(check(tools, calls, gt, language))
    turn_scores = [r.score for r in results]
    if len(results) == 1:
        r = results[0]
        return RewardResult(r.score, r.valid, r.error_type, {**r.details, "turn_scores": turn_scores})
    failed = [(k, r) for k, r in enumerate(results) if not r.valid]
    if not failed:
        return RewardResult(1.0, True, None, {"turn_scores": turn_scores})
    score = sum(turn_scores) / len(results)
    turns = [{"turn": k, "error_type": r.error_type, "score": r.score, **r.details} for k, r in failed]
    return RewardResult(score, False, failed[0][1].error_type, {"turns": turns, "turn_scores": turn_scores})
