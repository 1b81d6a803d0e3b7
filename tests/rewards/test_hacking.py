"""Reward-hacking guards: each known exploit earns less than full credit."""

from __future__ import annotations

from reward_builders import TOOLS, episode, render, step, task

from envs.types import ToolCall
from rewards import RewardSpec, score
from rewards.ast_match import check

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
