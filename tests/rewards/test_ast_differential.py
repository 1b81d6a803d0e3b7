"""Differential test: our strict AST verdict agrees with bfcl-eval's own checker on >= 20,000 Python pairs, and,
for Java and JavaScript, verdict and error type on >= 2,000 pairs (source-text conversion on 24,000 texts)."""

from __future__ import annotations

from collections import Counter

from envs.schema import normalize_tool
from rewards.ast_match import check
from tests.oracles.bfcl_ast import AST_CATEGORIES, PERTURBATIONS, make_pairs


def _disagreements(pairs, official, tools_of=lambda p: p.case.tools):
    bad = []
    for p in pairs:
        ours = check(tools_of(p), p.calls, p.case.ground_truth)
        assert (ours.score == 1.0) == ours.valid, (p.case.id, p.kind, ours)
        assert 0.0 <= ours.score <= 1.0
        theirs = official(p)
        if ours.valid != theirs:
            bad.append((p.case.id, p.kind, theirs, ours.error_type, [(c.name, c.arguments) for c in p.calls]))
    return bad


def test_agrees_with_official_checker_on_20k_pairs(bfcl_cases, official):
    pairs = make_pairs(bfcl_cases, per_case=10, seed=1234)
    assert len(pairs) >= 20_000
    # Coverage: every BFCL v4 Python AST category, every perturbation, and plenty of both verdicts.
    assert {p.case.category for p in pairs} == set(AST_CATEGORIES)
    kinds = Counter(k for p in pairs for k in p.kind.split("+"))
    assert set(PERTURBATIONS) <= set(kinds), set(PERTURBATIONS) - set(kinds)
    assert kinds["derived_first"] == len(bfcl_cases)

    bad = _disagreements(pairs, official)
    assert not bad, f"{len(bad)} disagreements, first: {bad[:3]}"

    verdicts = Counter(official(p) for p in pairs)
    assert verdicts[True] > 5_000 and verdicts[False] > 5_000, verdicts


def test_first_acceptable_values_pass(bfcl_cases, official):
    """Every BFCL entry's ground truth written out as calls passes, but for a handful of entries that
    even BFCL's checker rejects (a GT argument outside the schema, a required parameter with no answer)."""
    pairs = [p for p in make_pairs(bfcl_cases, per_case=2, seed=7) if p.kind == "derived_first"]
    theirs = [official(p) for p in pairs]
    ours = [check(p.case.tools, p.calls, p.case.ground_truth).valid for p in pairs]
    assert ours == theirs
    assert 0 < theirs.count(False) <= 10


def test_agrees_with_openai_form_tools(bfcl_cases, official):
    """The same verdicts when the tools come normalised to OpenAI JSON-schema form (x-bfcl-type kept)."""
    cases = bfcl_cases[::4]
    normalised = {c.id: [normalize_tool(t) for t in c.tools] for c in cases}
    pairs = make_pairs(cases, per_case=6, seed=99)
    bad = _disagreements(pairs, official, tools_of=lambda p: normalised[p.case.id])
    assert not bad, f"{len(bad)} disagreements, first: {bad[:3]}"


def test_irrelevance_and_relevance_agree_with_official_rule(official):
    """BFCL scores (live_)irrelevance and live_relevance without its AST checker: a decoded output
    "contains a call" unless `is_empty_output`; irrelevance passes without one, relevance with one."""
    import random

    from bfcl_eval.utils import is_empty_output

    from envs.types import Episode, Step, Task, ToolCall
    from rewards.ast_match import check_episode
    from tests.oracles.bfcl_ast import load_cases

    rng = random.Random(5)
    cases = load_cases(("irrelevance", "live_irrelevance", "live_relevance"), with_answers=False)
    assert len(cases) > 1000
    for case in cases:
        names = [t["name"] for t in case.tools] or ["some_function"]
        for calls in ([], [ToolCall(rng.choice(names), {})], [ToolCall(n, {"x": 1}) for n in names]):
            contains_call = not is_empty_output([{c.name: c.arguments} for c in calls])
            official_ok = (not contains_call) if "irrelevance" in case.category else contains_call
            metadata = {"bfcl_scoring": "relevance"} if case.category == "live_relevance" else {}
            task = Task(
                id=case.id,
                category="irrelevance",
                turns=[[{"role": "user", "content": "?"}]],
                tools=case.tools,
                ground_truth=[[]],
                metadata=metadata,
            )
            ours = check_episode(task, Episode(task_id=case.id, steps=[Step(turn=0, text="", calls=calls)]))
            assert ours.valid == official_ok, (case.id, calls)


# --- Java and JavaScript: arguments as source text, read by BFCL's type rules ---------------------------


def test_java_and_javascript_agree_with_official_checker_on_verdict_and_error_type(source_cases, official_source):
    from tests.oracles.bfcl_ast import (
        LANGUAGE_OF,
        SOURCE_CATEGORIES,
        SOURCE_PERTURBATIONS,
        make_source_pairs,
        ours_of_official,
    )

    pairs = make_source_pairs(source_cases, per_case=20, seed=2026)
    assert len(pairs) >= 2_000
    assert {c.category for c in source_cases} == set(SOURCE_CATEGORIES) and len(source_cases) >= 148
    kinds = Counter(k for p in pairs for k in p.kind.split("+"))
    assert set(SOURCE_PERTURBATIONS) <= set(kinds), set(SOURCE_PERTURBATIONS) - set(kinds)
    assert kinds["derived_first"] == len(source_cases) and kinds["type_rule"] >= 1_000

    bad, verdicts, errors = [], Counter(), Counter()
    for p in pairs:
        ours = check(p.case.tools, p.calls, p.case.ground_truth, LANGUAGE_OF[p.case.category])
        assert (ours.score == 1.0) == ours.valid and 0.0 <= ours.score <= 1.0, (p.case.id, p.kind, ours)
        valid, error = official_source(p)
        verdicts[p.case.category, valid] += 1
        errors[error] += 1
        if (ours.valid, ours.error_type) != (valid, ours_of_official(error, p)):
            bad.append((p.case.id, p.kind, valid, error, ours.error_type, [(c.name, c.arguments) for c in p.calls]))
    assert not bad, f"{len(bad)} disagreements, first: {bad[:3]}"

    # Not vacuous: plenty of both verdicts in each language, and every error the type rules lead to.
    for category in SOURCE_CATEGORIES:
        assert verdicts[category, True] >= 300 and verdicts[category, False] >= 800, verdicts
    for error in ("type_error:java", "type_error:js", "type_error:simple", "type_error:nested", "value_error:string",
                  "value_error:list/tuple", "value_error:dict_key", "value_error:dict_value", "value_error:others",
                  "simple_function_checker:missing_required", "simple_function_checker:unexpected_param",
                  "simple_function_checker:wrong_func_name", "simple_function_checker:wrong_count"):
        assert errors[error] >= 5, (error, errors)


def test_java_and_javascript_ground_truth_passes_through_the_loaded_tasks(source_cases, official_source):
    """envs.bfcl's tasks carry the typed docs and the language: `check_episode` on the ground truth written as
    source text gives the official verdict (all pass but BFCL's own three: untyped ArrayList items stay strings,
    a HashMap answer whose value is not a list)."""
    import random

    from envs import bfcl
    from envs.types import Episode, Step
    from rewards.ast_match import check_episode
    from tests.oracles.bfcl_ast import Pair, derive_source_call

    cases = {c.id: c for c in source_cases}
    rng = random.Random(0)
    failed = []
    for task in bfcl.load("simple_java") + bfcl.load("simple_javascript"):
        case = cases[task.id]
        call = derive_source_call(case, rng)
        ours = check_episode(task, Episode(task_id=task.id, steps=[Step(turn=0, text="", calls=[call])]))
        assert ours.valid == official_source(Pair(case, [call], "derived_first"))[0], task.id
        if not ours.valid:
            failed.append(task.id)
    assert sorted(failed) == ["simple_java_36", "simple_java_64", "simple_java_65"]


_SCALARS = ["1", "-2", "07", "3L", "4l", "1.5", "-0.5", "2.5f", "3F", "3e2", "1.5e-3", "3e2F", "5n", "true", "false",
            '"a b"', "'c'", '"x, y"', "x", "null", "", " 7", "+3", "1_0", "inf", "nan", "1.5d", "'a'"]
_TEMPLATES = {  # collection spellings, by the declared type they are written for
    "ArrayList": ["new ArrayList<>(Arrays.asList({}))", "new ArrayList<Long>() {{{{ add({}); add(1); }}}}",
                  "new ArrayList<>()"],
    "Array": ["new int[]{{{}}}", "new String[] {{ {} }}", "new char[]{{{}, 'z'}}"],
    "HashMap": ['new HashMap<String, Object>() {{{{ put("k", {}); }}}}', 'new HashMap<>() {{ put("a", {}); }}',
                "new HashMap<>()"],
    "array": ["[{}]", "[[{}], [1]]", "new Array({})", "[ {} , 'x']"],
    "dict": ["{{a: {}}}", "{{'a': {}, b: [1, 'x']}}", "{{a: {{b: {}}}}}", "{{}}"],
}


def _random_source_text(rng, declared, pieces):
    """Mostly text written for the declared type (a scalar, or a collection filled with scalars), else a jumble."""
    r = rng.random()
    if r < 0.8 and declared in _TEMPLATES:
        body = rng.choice([", ", ","]).join(rng.choice(_SCALARS) for _ in range(rng.randrange(0, 4)))
        return rng.choice(_TEMPLATES[declared]).format(body)
    if r < 0.8:
        return rng.choice(_SCALARS)
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 7)))


def test_source_text_conversion_equals_bfcl_s_converters_on_random_text():
    """`rewards.source_types.convert` against bfcl-eval's java_type_converter / js_type_converter on 24,000 random
    source texts built from the pieces their patterns look for: the same value, type for type."""
    import contextlib
    import io
    import math
    import random

    from bfcl_eval.eval_checker.ast_eval.type_convertor.java_type_converter import java_type_converter
    from bfcl_eval.eval_checker.ast_eval.type_convertor.js_type_converter import js_type_converter

    from rewards.source_types import ARRAY_TYPES, JAVA_TYPES, JS_TYPES, convert

    pieces = ["1", "-2", "3L", "4l", "1.5", "2.5f", "3e2", "3e2F", "5n", "true", "false", '"a b"', "'c'", "x", "null",
              "", " ", "\n", ",", ", ", ":", "[", "]", "{", "}", "(", ")", "new ", "ArrayList<>", "ArrayList<Integer>",
              "Arrays.asList(", "new int[]", "new String[]", "HashMap<String, Object>", "() {{", "}}", 'put("k", ',
              "add(", ";", "[1, 2]", "[[1, 2], [3]]", "new Array(", "{a: 1, 'b': \"x\"}", "{}", "+3", "1_0", "inf"]
    supported = {"java": [t for t in JAVA_TYPES if t not in ("Set", "Hashtable", "Queue", "Stack")],
                 "javascript": list(JS_TYPES)}
    official = {"java": java_type_converter, "javascript": js_type_converter}

    def same(a, b):
        if type(a) is not type(b):
            return False
        if isinstance(a, float) and math.isnan(a):
            return math.isnan(b)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        return a == b

    rng = random.Random(11)
    kinds, bad = Counter(), []
    for language in ("java", "javascript"):
        types = supported[language]
        for _ in range(12_000):
            declared = rng.choice(types)
            item = rng.choice([None, *types]) if declared in ARRAY_TYPES[language] else None
            text = _random_source_text(rng, declared, pieces)
            with contextlib.redirect_stdout(io.StringIO()):
                theirs = official[language](text, declared, item)
            ours = convert(text, language, declared, item)
            kinds[type(theirs).__name__] += 1
            if not same(ours, theirs):
                bad.append((language, declared, item, text, theirs, ours))
    assert not bad, f"{len(bad)} differences, first: {bad[:3]}"
    minimum = {"str": 1_000, "list": 1_000, "dict": 1_000, "int": 100, "float": 100, "bool": 100}
    assert all(kinds[k] >= n for k, n in minimum.items()), kinds
