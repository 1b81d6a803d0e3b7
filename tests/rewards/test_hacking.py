"""Reward-hacking guards: each known exploit earns less than full credit."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs.types import ToolCall
from rewards import RewardSpec, score
from rewards.ast_match import check

from reward_builders import TOOLS, episode, render, step, task

PARIS = ToolCall("get_weather", {"city": "Paris"})
GT = [[{"get_weather": {"city": ["Paris"], "unit": ["", "c"]}}]]
SPEC = RewardSpec(weights={"ast": 1.0, "format": 0.2, "relevance": 0.2})
FULL = sum(SPEC.weights.values())


def total(t, *steps):
    return score(t, episode(*steps), SPEC).total


def test_the_honest_answer_earns_full_credit():
    assert total(task(GT), step(render([PARIS]))) == FULL


def test_calling_every_tool():
    every = [ToolCall(t["function"]["name"], {"city": "Paris"}) for t in TOOLS]
    r = check(TOOLS, every, GT[0])
    assert not r.valid and r.score <= 1 / len(TOOLS) + 1e-9
    assert total(task(GT), step(render(every))) < FULL


def test_repeating_a_correct_call():
    r = check(TOOLS, [PARIS, PARIS], GT[0])
    assert not r.valid and r.score == 0.5
    assert check(TOOLS, [PARIS] * 5, GT[0]).score == 0.2
    assert total(task(GT), step(render([PARIS, PARIS]))) < FULL
    # Repeating it over several steps of the turn counts the same as repeating it in one step.
    assert total(task(GT), step(render([PARIS])), step(render([PARIS]))) < FULL


def test_adding_extra_arguments():
    for extra in ({"unit": "c", "verbose": True}, {"country": "France"}, {"unit": "c", "city2": "Paris"}):
        padded = ToolCall("get_weather", {"city": "Paris", **extra})
        r = check(TOOLS, [padded], GT[0])
        assert not r.valid and r.score < 1.0, extra
        assert total(task(GT), step(render([padded]))) < FULL


def test_calling_on_an_irrelevance_task():
    irrelevant = task([[]], category="irrelevance")
    assert total(irrelevant, step("I cannot help with that; no tool fits.")) == FULL
    r = score(irrelevant, episode(step(render([PARIS]))), SPEC)
    assert r.components["ast"].score == 0.0 and r.components["relevance"].score == 0.0
    assert r.total <= 0.2  # only the format credit is left


def test_valid_call_followed_by_garbage():
    text = render([PARIS]) + " lorem ipsum }{ <|im_end|> DROP TABLE"
    s = step(text)
    assert s.calls == [PARIS] and s.parse_error is None  # the parser itself accepts it ...
    r = score(task(GT), episode(s), SPEC)
    assert r.components["ast"].valid  # ... and the calls are right ...
    assert not r.components["format"].valid and r.components["format"].error_type == "stray_content"
    assert r.total < FULL  # ... but the garbage costs the format credit


def test_guessing_instead_of_asking_on_a_missing_param_task():
    t = task([[]], category="missing_param", metadata={"missing_param": "city"})
    assert total(t, step("Which city would you like the weather for?")) == FULL
    assert total(t, step(render([PARIS]))) < FULL


# ---------------------------------------------------------------------------------------------------
# Abstaining (irrelevance, missing values) under the demo's weights: an attempted call that does not parse
# is not an abstention. It once scored 1.8 of 2.1 on a missing-date task (the demo's GRPO rollouts), and
# every irrelevance or missing-value pass of the demo's trained models was such a malformed call list.
# ---------------------------------------------------------------------------------------------------


def _demo_spec() -> RewardSpec:
    from rl.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml", stage="rl")
    return RewardSpec(weights=dict(cfg.rewards.components), format_name=cfg.format.name,
                      length_limit_tokens=cfg.rewards.length_limit_tokens)


ABSTAIN_TASKS = {
    "irrelevance": (task([[]], category="irrelevance"), "Sorry, none of the available tools can do that."),
    "missing_param": (task([[]], category="missing_param", metadata={"missing_param": "city"}),
                      "Could you tell me the city?"),
}
ATTEMPTS = {
    "truncated call": [step("[get_weather(city='Par")],
    "runaway nesting": [step("[get_weather(city=[[[[[[[[[[[[[[[[")],
    "call inside a call": [step("[get_weather(city='[get_time(city='[get_weather(")],
    "call in prose": [step("Sure, I will run get_weather(city='Paris') for you.")],
    "call in the wrong format": [step('<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>')],
    "malformed, then an answer": [step("[get_weather(city='Par"), step("Sorry, none of the available tools can do that.")],
}


JUDGES = ("ast", "ast_strict", "format", "relevance")


@pytest.mark.parametrize("kind", sorted(ABSTAIN_TASKS))
@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_a_call_attempt_that_does_not_parse_earns_at_most_half_of_abstaining(kind, attempt):
    spec = _demo_spec()
    t, right = ABSTAIN_TASKS[kind]
    abstain = score(t, episode(step(right)), spec)
    assert abstain.total == sum(spec.weights.values())  # every component is satisfied
    tried = score(t, episode(*ATTEMPTS[attempt]), spec)
    assert tried.total <= 0.5 * abstain.total, tried.scores
    judged = score(t, episode(*ATTEMPTS[attempt]), RewardSpec(weights=dict.fromkeys(JUDGES, 1.0))).components
    assert judged["relevance"].error_type == "unexpected_call"
    assert judged["format"].error_type in ("parse_error", "unparsed_call")
    assert judged["ast_strict"].error_type == judged["format"].error_type  # the training verdict fails it ...
    # ... and evaluation stays BFCL-exact: BFCL's irrelevance checker passes output that decodes to no call.
    assert judged["ast"].valid


def test_a_right_abstention_earns_as_much_as_a_perfect_call():
    spec = _demo_spec()
    t, right = ABSTAIN_TASKS["irrelevance"]
    assert score(t, episode(step(right)), spec).total == score(task(GT), episode(step(render([PARIS]))), spec).total


def test_a_tool_named_in_an_answer_is_not_a_call_attempt():
    t, _ = ABSTAIN_TASKS["irrelevance"]
    r = score(t, episode(step("get_weather only knows the weather, not flights.")), _demo_spec())
    assert r.components["format"].valid and r.components["relevance"].valid
