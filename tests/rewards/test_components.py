"""format, relevance, decision, length, and their composition by rewards.score."""

from __future__ import annotations

import subprocess
import sys

import pytest

from envs.types import Step, ToolCall
from rewards import COMPONENTS, RewardSpec, decision, format, length, relevance, score
from rewards.ast_match import check_episode

from reward_builders import episode, render, step, task

PARIS = ToolCall("get_weather", {"city": "Paris"})
ROME_TIME = ToolCall("get_time", {"city": "Rome"})
GT = [[{"get_weather": {"city": ["Paris"]}}]]


# --- format ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pythonic", "json", "decision"])
def test_format_clean_calls_and_answers_pass(fmt):
    ep = episode(
        step(render([PARIS], fmt), fmt=fmt),
        step("<|answer|>Sunny." if fmt == "decision" else "Sunny.", fmt=fmt),
    )
    r = format.check(task(GT), ep, fmt)
    assert r.valid and r.score == 1.0


@pytest.mark.parametrize("fmt", ["pythonic", "json"])
def test_format_stray_text_around_calls_fails(fmt):
    for text in (render([PARIS], fmt) + " and some garbage", "Sure! " + render([PARIS], fmt)):
        r = format.check(task(GT), episode(step(text, fmt=fmt), step("Sunny.", fmt=fmt)), fmt)
        assert r.error_type == "stray_content" and r.score == 0.5


def test_format_parse_error_and_empty_episode():
    r = format.check(task(GT), episode(step("[get_weather(city='Paris'")))
    assert not r.valid and r.error_type == "parse_error" and r.score == 0.0
    r = format.check(task(GT), episode())
    assert not r.valid and r.error_type == "no_output"


def test_format_a_parse_error_is_not_averaged_away_by_later_clean_steps():
    r = format.check(task(GT), episode(step("[get_weather(city='Paris'"), step("Sorry, I cannot.")))
    assert r.error_type == "parse_error" and r.score == 0.0


@pytest.mark.parametrize("fmt", ["pythonic", "json"])
def test_format_unparsed_call_in_prose_or_another_format(fmt):
    other = "json" if fmt == "pythonic" else "pythonic"
    for text in ("Let me run get_weather(city='Paris').", render([PARIS], other)):
        s = step(text, fmt=fmt)
        assert not s.calls and s.parse_error is None  # the format saw no call ...
        r = format.check(task(GT), episode(s), fmt)
        assert r.error_type == "unparsed_call" and r.score == 0.0  # ... but the text tried one
    assert format.check(task(GT), episode(step("get_weather is the wrong tool here.", fmt=fmt)), fmt).valid


def test_format_native_checks_parse_errors_only():
    s = Step(turn=0, text="anything", calls=[PARIS])
    assert format.check(task(GT), episode(s), "native").valid
    s.parse_error = "bad"
    assert format.check(task(GT), episode(s), "native").error_type == "parse_error"


# --- relevance -------------------------------------------------------------------------------------


def test_relevance_counts_an_unparsed_call_attempt_as_a_call():
    t = task([[]], category="irrelevance")
    for text in ("[get_weather(city='Par", "I'll call get_weather(city='Paris')."):
        r = relevance.check(t, episode(step(text)))
        assert not r.valid and r.error_type == "unexpected_call" and r.score == 0.0
    assert relevance.check(task(GT), episode(step("[get_weather(city='Par"))).valid  # it did decide to call


def test_relevance_per_turn():
    t = task([GT[0], []])
    good = episode(step(render([PARIS])), step("Sunny.", turn=0), step("No tool for that.", turn=1))
    assert relevance.check(t, good).valid
    lazy = episode(step("I think it is sunny.", turn=0), step("No tool for that.", turn=1))
    r = relevance.check(t, lazy)
    assert r.error_type == "no_call" and r.score == 0.5
    eager = episode(step(render([PARIS])), step(render([ROME_TIME]), turn=1))
    r = relevance.check(t, eager)
    assert r.error_type == "unexpected_call" and r.score == 0.5


def test_relevance_missing_param_wants_a_question():
    t = task([[]], category="missing_param", metadata={"missing_param": "destination"})
    assert relevance.check(t, episode(step("Where would you like to fly to?"))).valid
    assert relevance.check(t, episode(step("Please tell me the destination."))).valid
    r = relevance.check(t, episode(step("OK.")))
    assert r.error_type == "no_question" and r.score == 0.5
    assert relevance.check(t, episode(step(render([PARIS])))).score == 0.0


def test_relevance_any_call_turns():
    t = task([[]], metadata={"bfcl_scoring": "relevance"})
    assert relevance.check(t, episode(step(render([ROME_TIME])))).valid
    assert relevance.check(t, episode(step("No."))).error_type == "no_call"
    assert check_episode(t, episode(step(render([ROME_TIME])))).valid


# --- decision --------------------------------------------------------------------------------------


def test_decision_tokens():
    t = task(GT)
    good = episode(
        step("<|use_tool|>" + render([PARIS]), fmt="decision"), step("<|answer|>Sunny.", fmt="decision")
    )
    assert decision.check(t, good).valid
    premature = episode(step("<|answer|>Sunny.", fmt="decision"))
    assert decision.check(t, premature).error_type == "wrong_decision"
    missing = episode(step(render([PARIS]), fmt="decision"), step("<|answer|>Sunny.", fmt="decision"))
    r = decision.check(t, missing)
    assert r.error_type == "missing_decision" and r.score == 0.5
    irrelevant = task([[]])
    assert decision.check(irrelevant, episode(step("<|answer|>No tool fits.", fmt="decision"))).valid
    assert not decision.check(
        irrelevant, episode(step("<|use_tool|>" + render([PARIS]), fmt="decision"))
    ).valid


# --- length ----------------------------------------------------------------------------------------


def test_length_penalty():
    t = task(GT)
    assert length.check(t, episode(step("x", num_tokens=100)), 256).score == 1.0
    r = length.check(t, episode(step("x", num_tokens=384)), 256)
    assert r.error_type == "too_long" and r.score == pytest.approx(0.5)
    assert length.check(t, episode(step("x", num_tokens=1000)), 256).score == 0.0
    assert length.check(t, episode(step("x", num_tokens=10), truncated=True), 256).error_type == "truncated"


# --- composition -----------------------------------------------------------------------------------


def test_score_computes_only_named_components_with_their_weights():
    t = task(GT)
    ep = episode(step(render([PARIS]), num_tokens=10), step("Sunny.", num_tokens=5))
    spec = RewardSpec(weights={"ast": 2.0, "format": 0.5, "length": 0.25}, length_limit_tokens=8)
    r = score(t, ep, spec)
    assert list(r.components) == ["ast", "format", "length"]
    assert r.components["length"].error_type == "too_long"
    expected = 2.0 + 0.5 + 0.25 * r.components["length"].score
    assert r.total == pytest.approx(expected)
    assert r.scores == {k: v.score for k, v in r.components.items()}


def test_ast_strict_is_binary():
    t = task([[{"get_weather": {"city": ["Paris"], "unit": ["c"]}}]])
    r = score(t, episode(step(render([PARIS]))), RewardSpec(weights={"ast": 1.0, "ast_strict": 1.0}))
    assert 0.0 < r.components["ast"].score < 1.0
    assert r.components["ast_strict"].score == 0.0


def test_multi_turn_ast_is_the_mean_over_turns():
    t = task([GT[0], [{"get_time": {"city": ["Rome"]}}]])
    both = episode(step(render([PARIS])), step(render([ROME_TIME]), turn=1))
    assert check_episode(t, both).valid
    first_only = episode(step(render([PARIS])), step("done", turn=1))
    r = check_episode(t, first_only)
    assert not r.valid and r.score == 0.5 and r.error_type == "no_call"


def test_reward_spec_is_validated():
    with pytest.raises(ValueError, match="unknown component"):
        RewardSpec(weights={"ast": 1.0, "vibes": 1.0})
    with pytest.raises(ValueError):
        RewardSpec(weights={})
    assert set(COMPONENTS) >= {"ast", "execution", "format", "relevance", "decision", "length"}


def test_rewards_imports_no_torch_ray_or_transformers():
    code = (
        "import sys, rewards; import rewards.execution; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray', 'transformers')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nothing_dispatches_on_the_category_name():
    """Swapping category labels changes no component: expectations come from the ground truth."""
    spec = RewardSpec(weights={"ast": 1.0, "relevance": 1.0, "format": 1.0, "decision": 1.0, "length": 1.0})
    eps = [episode(step(render([PARIS]))), episode(step("No tool fits."))]
    for gt in (GT, [[]]):
        results = {
            cat: [score(task(gt, category=cat), ep, spec).scores for ep in eps]
            for cat in ("simple", "irrelevance", "missing_param", "multi_turn")
        }
        assert len({repr(v) for v in results.values()}) == 1, results


def test_missing_params_per_turn_metadata():
    from rewards.expect import missing_params

    t = task([[], GT[0], []], category="multi_turn", metadata={"missing_params": [["city"], None, ["date"]]})
    assert [missing_params(t, k) for k in range(3)] == [["city"], [], ["date"]]
    t = task([[]], category="missing_param", metadata={"missing_param": "city"})
    assert missing_params(t, 0) == ["city"]
