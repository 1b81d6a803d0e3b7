"""Golden tests for rewards.ast_match: one per error type, and BFCL's semantics one rule at a time."""

from __future__ import annotations

import random
import re

import pytest

from envs.schema import normalize_tool
from envs.types import ToolCall
from rewards.ast_match import ERROR_TYPES, check, standardize_string

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "temp": {"type": "float"},
            "coords": {"type": "tuple", "items": {"type": "float"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "filters": {
                "type": "dict",
                "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
            },
            "rows": {"type": "array", "items": {"type": "dict"}},
            "detailed": {"type": "boolean"},
            "code": {"type": "string"},
        },
        "required": ["city"],
    },
}
FORECAST = {
    "name": "get_forecast",
    "description": "Forecast.",
    "parameters": {"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TOOLS = [WEATHER, FORECAST]


def call(name="get_weather", **args):
    return ToolCall(name, args)


def gt(name="get_weather", **answers):
    return {name: answers}


def verdict(calls, ground_truth, tools=TOOLS):
    return check(tools, calls, ground_truth)


# --- one golden case per error type --------------------------------------------------------------

GOLDEN = {
    "unexpected_call": ([call(city="Paris")], []),
    "no_call": ([], [gt(city=["Paris"])]),
    "wrong_count": ([call(city="Paris"), call(city="Paris")], [gt(city=["Paris"])]),
    "wrong_name": ([call("get_forecast", city="Paris")], [gt(city=["Paris"])]),
    "missing_required": ([call(days=3)], [gt(city=["Paris"], days=[3])]),
    "unexpected_param": ([call(city="Paris", foo=1)], [gt(city=["Paris"])]),
    "missing_optional": ([call(city="Paris")], [gt(city=["Paris"], days=[3])]),
    "type_error": ([call(city="Paris", days="3")], [gt(city=["Paris"], days=[3])]),
    "nested_type_error": ([call(city="Paris", tags=[1, 2])], [gt(city=["Paris"], tags=[["a", "b"]])]),
    "string_value_error": ([call(city="London")], [gt(city=["Paris"])]),
    "list_value_error": ([call(city="Paris", tags=["b", "a"])], [gt(city=["Paris"], tags=[["a", "b"]])]),
    "dict_key_error": (
        [call(city="Paris", filters={"max": 1})],
        [gt(city=["Paris"], filters=[{"min": [1]}])],
    ),
    "dict_value_error": (
        [call(city="Paris", filters={"min": 2})],
        [gt(city=["Paris"], filters=[{"min": [1]}])],
    ),
    "list_dict_count_error": (
        [call(city="Paris", rows=[{"a": 1}])],
        [gt(city=["Paris"], rows=[[{"a": [1]}, {"a": [2]}]])],
    ),
    "value_error": ([call(city="Paris", days=4)], [gt(city=["Paris"], days=[3])]),
}


def test_golden_covers_the_taxonomy():
    # The two errors of arguments that are not source text have their golden cases below, in Java/JavaScript.
    assert set(GOLDEN) == set(ERROR_TYPES) - {"java_type_error", "js_type_error"}


@pytest.mark.parametrize("error_type", sorted(GOLDEN))
def test_golden_error_type(error_type):
    calls, ground_truth = GOLDEN[error_type]
    r = verdict(calls, ground_truth)
    assert not r.valid
    assert r.error_type == error_type
    assert 0.0 <= r.score < 1.0


@pytest.mark.parametrize("error_type", sorted(GOLDEN))
def test_golden_agrees_with_official(error_type, official):
    from tests.oracles.bfcl_ast import Case, Pair

    calls, ground_truth = GOLDEN[error_type]
    if not ground_truth:
        return  # irrelevance: BFCL scores it without its AST checker (any call fails; see below)
    category = "parallel" if len(ground_truth) > 1 or len(calls) > 1 else "simple_python"
    assert official(Pair(Case("golden", category, TOOLS, ground_truth), calls, error_type)) is False


# --- BFCL's rules, one at a time --------------------------------------------------------------------


def test_exact_match_is_valid_with_full_score():
    r = verdict([call(city="Paris", days=3)], [gt(city=["Paris"], days=[3])])
    assert r.valid and r.score == 1.0 and r.error_type is None


def test_irrelevance_passes_iff_no_call():
    assert verdict([], []).valid
    assert verdict([], []).score == 1.0
    r = verdict([call("get_forecast", city="x")], [])
    assert not r.valid and r.score == 0.0


def test_int_is_accepted_for_float_but_not_float_for_int():
    assert verdict([call(city="Paris", temp=20)], [gt(city=["Paris"], temp=[20.0])]).valid
    r = verdict([call(city="Paris", days=3.0)], [gt(city=["Paris"], days=[3])])
    assert r.error_type == "type_error"


def test_bool_is_not_an_int():
    assert verdict([call(city="Paris", days=True)], [gt(city=["Paris"], days=[1])]).error_type == "type_error"


def test_tuple_is_a_list_for_tuple_parameters_only():
    ground_truth = [gt(city=["Paris"], coords=[[1.5, 2.0]])]
    assert verdict([call(city="Paris", coords=(1.5, 2.0))], ground_truth).valid
    assert verdict([call(city="Paris", coords=[1.5, 2.0])], ground_truth).valid
    r = verdict([call(city="Paris", tags=("a", "b"))], [gt(city=["Paris"], tags=[["a", "b"]])])
    assert r.error_type == "type_error"  # BFCL converts tuples only where the schema says tuple


@pytest.mark.parametrize(
    "value,ok",
    [
        ("New York", True),
        ("new-york", True),
        ("NEW_YORK", True),
        ("New York, ", True),
        ("New York!", False),
        ("NY", False),
    ],
)
def test_strings_are_standardised(value, ok):
    assert verdict([call(city=value)], [gt(city=["New York"])]).valid is ok


def test_strings_inside_lists_and_dicts_are_standardised():
    assert verdict([call(city="x", tags=["A B", "c"])], [gt(city=["x"], tags=[["a-b", "C"]])]).valid
    r = verdict(
        [call(city="x", rows=[{"k": "Hello World"}])], [gt(city=["x"], rows=[[{"k": ["hello world"]}]])]
    )
    assert r.valid


def test_optional_may_be_omitted_only_when_empty_string_is_acceptable():
    assert verdict([call(city="Paris")], [gt(city=["Paris"], unit=["", "celsius"])]).valid
    assert verdict([call(city="Paris", unit="celsius")], [gt(city=["Paris"], unit=["", "celsius"])]).valid
    assert (
        verdict([call(city="Paris")], [gt(city=["Paris"], unit=["celsius"])]).error_type == "missing_optional"
    )


def test_schema_parameter_absent_from_the_possible_answer_is_unexpected():
    r = verdict([call(city="Paris", detailed=False)], [gt(city=["Paris"])])
    assert r.error_type == "unexpected_param"


def test_parallel_calls_match_in_any_order():
    ground_truth = [gt(city=["Paris"]), gt(city=["London"]), gt("get_forecast", city=["Rome"])]
    calls = [call("get_forecast", city="Rome"), call(city="London"), call(city="Paris")]
    assert verdict(calls, ground_truth).valid
    r = verdict([call(city="Paris"), call(city="Paris"), call("get_forecast", city="Rome")], ground_truth)
    assert not r.valid and r.error_type == "string_value_error"
    assert 0.5 < r.score < 1.0


def test_dropped_and_duplicated_calls_fail():
    ground_truth = [gt(city=["Paris"]), gt(city=["London"])]
    assert verdict([call(city="Paris")], ground_truth).error_type == "wrong_count"
    assert (
        verdict([call(city="Paris"), call(city="London"), call(city="London")], ground_truth).error_type
        == "wrong_count"
    )


def test_variable_values_pass_by_their_own_type():
    # BFCL: when the acceptable values' type differs from the schema type, a value of that type passes.
    assert verdict([call(city="Paris", code=2)], [gt(city=["Paris"], code=[2])]).valid
    assert verdict([call(city="Paris", code=None)], [gt(city=["Paris"], code=["", None])]).valid


def test_empty_list_is_acceptable_when_empty_string_is():
    assert verdict([call(city="Paris", tags=[])], [gt(city=["Paris"], tags=["", ["a"]])]).valid


def test_openai_form_tools_give_the_same_verdicts():
    openai_tools = [normalize_tool(t) for t in TOOLS]
    for error_type, (calls, ground_truth) in GOLDEN.items():
        r = check(openai_tools, calls, ground_truth)
        assert (r.valid, r.error_type) == (False, error_type)
    assert check(openai_tools, [call(city="Paris", temp=1)], [gt(city=["Paris"], temp=[1.0])]).valid


def test_expected_function_missing_from_tools_is_checked_against_the_answer():
    ground_truth = [gt("unlisted", x=[1], y=["", 2])]
    assert check([], [call("unlisted", x=1)], ground_truth).valid
    assert check([], [call("unlisted", x=2)], ground_truth).error_type == "value_error"
    assert check([], [call("unlisted", x=1, z=0)], ground_truth).error_type == "unexpected_param"


def test_greedy_matching_is_bfcl_s(official):
    """BFCL matches expected calls greedily, in order; where that misses a perfect assignment, so do we
    (and the partial score stays below 1.0, so score == 1.0 iff valid)."""
    from tests.oracles.bfcl_ast import Case, Pair

    tool = {
        "name": "f",
        "description": "",
        "parameters": {"type": "dict", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
    }
    ground_truth = [{"f": {"x": [1, 2]}}, {"f": {"x": [1]}}]
    calls = [ToolCall("f", {"x": 1}), ToolCall("f", {"x": 2})]
    r = check([tool], calls, ground_truth)
    assert official(Pair(Case("greedy", "parallel", [tool], ground_truth), calls, "greedy")) is False
    assert not r.valid and r.score < 1.0
    assert check([tool], calls[::-1], ground_truth).valid


# --- partial credit --------------------------------------------------------------------------------


def test_partial_credit_orders_mistakes():
    ground_truth = [gt(city=["Paris"], days=[3])]
    exact = verdict([call(city="Paris", days=3)], ground_truth).score
    one_wrong = verdict([call(city="Paris", days=4)], ground_truth).score
    both_wrong = verdict([call(city="Rome", days=4)], ground_truth).score
    missing = verdict([call(city="Paris")], ground_truth).score
    wrong_name = verdict([call("get_forecast", city="Paris")], ground_truth).score
    assert exact == 1.0 > one_wrong > both_wrong > wrong_name == 0.0
    assert 0.0 < missing < 1.0


def test_partial_credit_counts_extra_and_missing_calls():
    ground_truth = [gt(city=["Paris"]), gt(city=["London"])]
    assert verdict([call(city="Paris")], ground_truth).score == pytest.approx(0.5)
    assert verdict([call(city="Paris"), call(city="London"), call(city="Rome")], ground_truth).score < 1.0


def test_score_is_one_iff_valid_on_random_pairs(bfcl_cases):
    from tests.oracles.bfcl_ast import make_pairs

    for p in make_pairs(bfcl_cases[::10], per_case=5, seed=3):
        r = check(p.case.tools, p.calls, p.case.ground_truth)
        assert 0.0 <= r.score <= 1.0
        assert (r.score == 1.0) == r.valid
        assert (r.error_type is None) == r.valid
        assert r.error_type is None or r.error_type in ERROR_TYPES


# --- implementation details that must not change verdicts ----------------------------------------


def test_standardize_string_equals_bfcl_regex():
    def bfcl(s):
        return re.sub(r"[ \,\.\/\-\_\*\^]", "", s).lower().replace("'", '"')

    rng = random.Random(0)
    alphabet = "aZ ,./-_*^'\"!?:;İK\u00e9\u00df\t\n1"
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        assert standardize_string(s) == bfcl(s), s


def test_caches_do_not_leak_between_different_objects():
    for city in ("Paris", "London", "Rome"):
        ground_truth = [gt(city=[city])]  # a fresh object each time
        assert verdict([call(city=city)], ground_truth).valid
        assert not verdict([call(city="Oslo")], ground_truth).valid


# --- Java and JavaScript: source text read by BFCL's type rules (one golden case per error type) ------

JAVA_TOOL = {
    "name": "Cache.put",
    "description": "Caches entries.",
    "parameters": {
        "type": "dict",
        "properties": {
            "key": {"type": "String"},
            "ttl": {"type": "long"},
            "ratio": {"type": "double"},
            "weight": {"type": "float"},
            "flag": {"type": "boolean"},
            "sep": {"type": "char"},
            "ids": {"type": "ArrayList", "items": {"type": "integer"}},
            "tags": {"type": "Array", "items": {"type": "String"}},
            "meta": {"type": "HashMap"},
            "ctx": {"type": "any"},
        },
        "required": ["key"],
    },
}
JS_TOOL = {
    "name": "saveUser",
    "description": "Saves a user.",
    "parameters": {
        "type": "dict",
        "properties": {
            "user": {"type": "String"},
            "age": {"type": "integer"},
            "score": {"type": "float"},
            "big": {"type": "Bigint"},
            "active": {"type": "Boolean"},
            "tags": {"type": "array", "items": {"type": "String"}},
            "coords": {"type": "array", "items": {"type": "float"}},
            "opts": {"type": "dict"},
            "cb": {"type": "any"},
        },
        "required": ["user"],
    },
}
SOURCE_TOOLS = {"java": [JAVA_TOOL], "javascript": [JS_TOOL]}
SOURCE_ONLY_ERRORS = {"java_type_error", "js_type_error"}
_J, _S = "Cache.put", "saveUser"

# (language, error type) -> (calls, ground truth). Every argument value is source text.
GOLDEN_SOURCE = {
    ("java", "java_type_error"): ([call(_J, key="a", ttl=5)], [gt(_J, key=["a"], ttl=[5])]),
    ("java", "type_error"): ([call(_J, key="a", ttl="5")], [gt(_J, key=["a"], ttl=[5])]),  # a long needs its L
    ("java", "nested_type_error"): (
        [call(_J, key="a", ids="new ArrayList<>(Arrays.asList(1, x))")],
        [gt(_J, key=["a"], ids=[[1, 2]])],
    ),
    ("java", "string_value_error"): ([call(_J, key='"a"')], [gt(_J, key=["a"])]),  # a String keeps its quotes
    ("java", "list_value_error"): (  # so do the String items of an array
        [call(_J, key="a", tags='new String[]{"x", "y"}')],
        [gt(_J, key=["a"], tags=[["x", "y"]])],
    ),
    ("java", "dict_key_error"): (
        [call(_J, key="a", meta='new HashMap<String, Object>() {{ put("size", 1); }}')],
        [gt(_J, key=["a"], meta=[{"limit": [1]}])],
    ),
    ("java", "dict_value_error"): (
        [call(_J, key="a", meta='new HashMap<String, Object>() {{ put("limit", 2); }}')],
        [gt(_J, key=["a"], meta=[{"limit": [1]}])],
    ),
    ("java", "value_error"): ([call(_J, key="a", flag="false")], [gt(_J, key=["a"], flag=[True])]),
    ("java", "missing_required"): ([call(_J, ttl="5L")], [gt(_J, key=["a"], ttl=[5])]),
    ("java", "unexpected_param"): ([call(_J, key="a", size="1")], [gt(_J, key=["a"])]),
    ("java", "missing_optional"): ([call(_J, key="a")], [gt(_J, key=["a"], ttl=[5])]),
    ("java", "wrong_name"): ([call("Cache.get", key="a")], [gt(_J, key=["a"])]),
    ("java", "wrong_count"): ([call(_J, key="a"), call(_J, key="a")], [gt(_J, key=["a"])]),
    ("javascript", "js_type_error"): ([call(_S, user="'Ann'", active=True)], [gt(_S, user=["Ann"], active=[True])]),
    ("javascript", "type_error"): ([call(_S, user="'Ann'", score="1e3")], [gt(_S, user=["Ann"], score=[1000.0])]),
    ("javascript", "nested_type_error"): (
        [call(_S, user="Ann", coords="[1.5, x]")],
        [gt(_S, user=["Ann"], coords=[[1.5, 2.0]])],
    ),
    ("javascript", "string_value_error"): ([call(_S, user="'Bob'")], [gt(_S, user=["Ann"])]),
    ("javascript", "list_value_error"): (  # items split on every comma, inside quotes too
        [call(_S, user="Ann", tags='["a, b"]')],
        [gt(_S, user=["Ann"], tags=[["a, b"]])],
    ),
    ("javascript", "dict_key_error"): ([call(_S, user="Ann", opts="{size: 1}")], [gt(_S, user=["Ann"], opts=[{"limit": [1]}])]),
    ("javascript", "dict_value_error"): (
        [call(_S, user="Ann", opts="{limit: 2}")],
        [gt(_S, user=["Ann"], opts=[{"limit": [1]}])],
    ),
    ("javascript", "value_error"): ([call(_S, user="Ann", big="5n")], [gt(_S, user=["Ann"], big=[6])]),
    ("javascript", "missing_required"): ([call(_S, age="3")], [gt(_S, user=["Ann"], age=[3])]),
    ("javascript", "unexpected_param"): ([call(_S, user="Ann", size="1")], [gt(_S, user=["Ann"])]),
    ("javascript", "missing_optional"): ([call(_S, user="Ann")], [gt(_S, user=["Ann"], age=[3])]),
    ("javascript", "wrong_name"): ([call("saveUsers", user="Ann")], [gt(_S, user=["Ann"])]),
    ("javascript", "wrong_count"): ([], [gt(_S, user=["Ann"])]),
}


def test_golden_covers_the_taxonomy_with_java_and_javascript():
    assert set(GOLDEN) | {e for _, e in GOLDEN_SOURCE} == set(ERROR_TYPES)
    assert SOURCE_ONLY_ERRORS <= {e for _, e in GOLDEN_SOURCE} and not SOURCE_ONLY_ERRORS & set(GOLDEN)


def _source_pair(language, calls, ground_truth):
    from tests.oracles.bfcl_ast import Case, Pair

    category = {"java": "simple_java", "javascript": "simple_javascript"}[language]
    return Pair(Case("golden", category, SOURCE_TOOLS[language], ground_truth), calls, "golden")


@pytest.mark.parametrize("language,error_type", sorted(GOLDEN_SOURCE))
def test_golden_source_error_type_agrees_with_official(language, error_type, official_source):
    from tests.oracles.bfcl_ast import ours_of_official

    calls, ground_truth = GOLDEN_SOURCE[language, error_type]
    r = check(SOURCE_TOOLS[language], calls, ground_truth, language)
    want = "no_call" if not calls else error_type
    assert (r.valid, r.error_type) == (False, want)
    assert 0.0 <= r.score < 1.0
    valid, theirs = official_source(_source_pair(language, calls, ground_truth))
    assert not valid and ours_of_official(theirs, _source_pair(language, calls, ground_truth)) == want


@pytest.mark.parametrize(
    "language,args,answers,ok",
    [
        # Numbers: a Java long needs L, a float f, a double neither; a JavaScript float takes no exponent.
        ("java", {"ttl": "5L"}, {"ttl": [5]}, True),
        ("java", {"ttl": "5"}, {"ttl": [5]}, False),
        ("java", {"weight": "2.5f"}, {"weight": [2.5]}, True),
        ("java", {"weight": "2.5"}, {"weight": [2.5]}, False),
        ("java", {"ratio": "2.5"}, {"ratio": [2.5]}, True),
        ("java", {"ratio": "2.5d"}, {"ratio": [2.5]}, False),
        ("javascript", {"score": "4"}, {"score": [4.0]}, True),
        ("javascript", {"score": "4e0"}, {"score": [4.0]}, False),
        ("javascript", {"big": "5n"}, {"big": [5]}, True),
        # Booleans are true/false exactly.
        ("java", {"flag": "true"}, {"flag": [True]}, True),
        ("java", {"flag": "True"}, {"flag": [True]}, False),
        # A Java char never converts: its quotes stay.
        ("java", {"sep": "a"}, {"sep": ["a"]}, True),
        ("java", {"sep": "'a'"}, {"sep": ["a"]}, False),
        # A JavaScript String loses one pair of quotes; a Java String none.
        ("javascript", {"user": '"Ann"'}, {"user": ["Ann"]}, True),
        ("java", {"key": "Ann"}, {"key": ["Ann"]}, True),
        # Collections: the ArrayList spellings, an Array of bare Strings, objects up to their first }.
        ("java", {"ids": "new ArrayList<Integer>(Arrays.asList(1, 2))"}, {"ids": [[1, 2]]}, True),
        ("java", {"ids": "new ArrayList<Integer>() {{ add(1); add(2); }}"}, {"ids": [[1, 2]]}, True),
        ("java", {"ids": "[1, 2]"}, {"ids": [[1, 2]]}, False),
        ("java", {"tags": "new String[]{x, y}"}, {"tags": [["x", "y"]]}, True),
        ("java", {"meta": 'new HashMap<>() {{ put("limit", 1); }}'}, {"meta": [{"limit": [1]}]}, True),
        ("javascript", {"tags": "['x', \"y\"]"}, {"tags": [["x", "y"]]}, True),
        ("javascript", {"opts": "{'limit': '1'}"}, {"opts": [{"limit": [1]}]}, True),
        # A string answer is a variable name: the text must be that name exactly.
        ("java", {"meta": "params"}, {"meta": ["params"]}, True),
        ("java", {"meta": "Params"}, {"meta": ["params"]}, False),
    ],
)
def test_source_type_rules(language, args, answers, ok, official_source):
    name = {"java": _J, "javascript": _S}[language]
    required = {"java": {"key": "k"}, "javascript": {"user": "n"}}[language]
    calls = [call(name, **required, **args) if list(required)[0] not in args else call(name, **args)]
    ground_truth = [gt(name, **{k: [v] for k, v in required.items() if k not in args}, **answers)]
    assert check(SOURCE_TOOLS[language], calls, ground_truth, language).valid is ok
    assert official_source(_source_pair(language, calls, ground_truth))[0] is ok


def test_language_must_be_known():
    with pytest.raises(ValueError, match="language"):
        check(TOOLS, [call(city="Paris")], [gt(city=["Paris"])], "kotlin")
