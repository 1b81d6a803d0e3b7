"""Differential test: our strict AST verdict agrees with bfcl-eval's own checker on >= 20,000 pairs."""

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
