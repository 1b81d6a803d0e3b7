"""The `retrieval` component (open mode): one golden test per error type, hacking guards, and its composition.

Episodes are played on the real open-mode env (BM25 over the whole tool pool), as a rollout would record them.
"""

import pytest

from envs import tasks
from envs.open_world import SEARCH_TOOL_NAME, golden_task, open_task
from envs.types import ToolCall
from rewards import RewardSpec, retrieval, score

from reward_builders import play


@pytest.fixture(scope="module")
def bill():
    """A banking task whose one golden tool is pay_bill, in open mode."""
    task = next(t for t in tasks.generate(40, "test", seed=0, categories=["simple"], domains=["banking"])
                if retrieval.golden_tools(t) == ["pay_bill"])
    return open_task(task)


def search(query, k=2):
    return ToolCall(SEARCH_TOOL_NAME, {"query": query, "k": k})


def pay(task):
    ((name, args),) = task.ground_truth[0][0].items()
    return ToolCall(name, {k: v[0] for k, v in args.items() if v[0] != ""})


def test_finding_the_golden_tool_with_one_small_search_is_valid(bill):
    r = retrieval.check(bill, play(bill, [[search("pay bill to a payee from an account"), pay(bill)]]))
    assert r.valid and r.score == 1.0 and r.details["recall"] == 1.0 and r.details["searches"] == 1


def test_a_golden_mode_task_is_not_applicable(bill):
    golden = golden_task(bill)
    r = retrieval.check(golden, play(golden, [[pay(golden)]]))
    assert r.valid and r.error_type == "not_applicable"


def test_no_search(bill):
    r = retrieval.check(bill, play(bill, [[]], answers=["I cannot do that."]))
    assert (r.valid, r.score, r.error_type) == (False, 0.0, "no_search")


def test_missed_golden(bill):
    r = retrieval.check(bill, play(bill, [[search("weather forecast", 5)]]))
    assert r.error_type == "missed_golden" and r.score == 0.0 and r.details["found"] == []


def test_unretrieved_call(bill):
    ep = play(bill, [[search("pay bill to a payee from an account"), pay(bill), ToolCall("wire_everything", {})]])
    r = retrieval.check(bill, ep)
    assert r.error_type == "unretrieved_call" and r.score == pytest.approx(0.8)
    assert r.details["unretrieved_calls"] == ["wire_everything"]
    # ... and the env answered it with an error observation, not a crash.
    assert "never returned by search_tools" in ep.steps[0].results[2].error


def test_repeated_search(bill):
    q = "pay bill to a payee from an account"
    r = retrieval.check(bill, play(bill, [[search(q), search(q)]]))
    assert r.error_type == "repeated_search" and r.score == pytest.approx(1.0 - 0.1 - 0.2)


def test_extra_searches(bill):
    r = retrieval.check(bill, play(bill, [[search("pay a bill", 2), search("pay bill to a payee from an account")]]))
    assert r.error_type == "extra_searches" and r.score == pytest.approx(0.9)


def test_oversized_results(bill):
    r = retrieval.check(bill, play(bill, [[search("pay a bill", 10)]]))
    assert r.error_type == "oversized_results" and r.details["returned"] == 10
    assert r.score == pytest.approx(1.0 - 0.02 * 5)


# --- hacking guards ---------------------------------------------------------------------------------


def test_searching_for_everything_scores_below_one_honest_search(bill):
    honest = retrieval.check(bill, play(bill, [[search("pay bill to a payee from an account")]])).score
    greedy = play(bill, [[search("pay a bill", 10), search("get", 10), search("everything", 10)]])
    r = retrieval.check(bill, greedy)
    assert not r.valid and r.details["recall"] == 1.0 and r.score < honest - 0.5


def test_calling_a_hallucinated_tool_never_pays(bill):
    # Guessing the golden tool's name without searching: no search, so nothing is credited...
    r = retrieval.check(bill, play(bill, [[pay(bill)]]))
    assert r.error_type == "no_search" and r.score == 0.0
    # ... and the env refused the call: the world is unchanged.
    ep = play(bill, [[pay(bill)]])
    assert ep.steps[0].results[0].error and ep.final_state == play(bill, [[]]).final_state


def test_search_limit_turns_further_searches_into_errors(bill):
    ep = play(bill, [[search(f"query {i}") for i in range(4)]])
    assert [r.error is None for r in ep.steps[0].results] == [True, True, True, False]
    assert "limit of 3 searches" in ep.steps[0].results[3].error


def test_world_components_ignore_searches_in_open_mode(bill):
    ep = play(bill, [[search("pay bill to a payee from an account"), pay(bill)]])
    result = score(bill, ep, RewardSpec(weights={"ast": 1.0, "execution": 1.0, "retrieval": 1.0}))
    assert all(r.valid for r in result.components.values()), result.components
    assert result.total == pytest.approx(3.0)
