"""Execution reward on the real simulated envs (envs.tasks.generate) and on BFCL multi-turn."""

from __future__ import annotations

import pytest

import envs
from envs import bfcl
from envs.types import CATEGORIES, Task, ToolCall
from rewards import execution
from rewards.execution import diff, flatten, ground_truth_calls, output_in_answer

from reward_builders import play


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    out: list[Task] = []
    for category in CATEGORIES:
        out += envs.tasks.generate(16, "train", seed=3, categories=[category])
    return out


def _writes(task: Task) -> bool:
    """True if replaying the ground truth changes the state."""
    gt = execution.replay(task)
    return any(not ro for t in gt["turns"] for ro in t["readonly"])


def _reads(task: Task) -> bool:
    gt = execution.replay(task)
    return any(t["calls"] and all(t["readonly"]) for t in gt["turns"])


def test_ground_truth_episodes_are_valid(tasks):
    assert {t.category for t in tasks} >= {"simple", "parallel", "multi_step", "multi_turn", "missing_param"}
    for t in tasks:
        r = execution.check(t, play(t, ground_truth_calls(t)))
        assert r.valid and r.score == 1.0, (t.id, t.category, r)


def test_doing_nothing_fails(tasks):
    writers = [t for t in tasks if _writes(t)]
    readers = [t for t in tasks if _reads(t) and not _writes(t)]
    assert writers and readers
    for t in writers:
        r = execution.check(t, play(t, [[] for _ in t.turns], answers=["Done." for _ in t.turns]))
        assert not r.valid and r.score < 1.0, t.id
        assert "state_mismatch" in {p["error_type"] for p in r.details["problems"]}, t.id
    for t in readers:
        r = execution.check(t, play(t, [[] for _ in t.turns], answers=["Done." for _ in t.turns]))
        assert not r.valid and r.error_type == "missing_response" and r.score < 1.0, t.id
        assert r.score == 0.0 or len(t.turns) > 1, t.id


def test_outputs_must_reach_the_final_answer(tasks):
    readers = [t for t in tasks if len(t.turns) == 1 and _reads(t)]
    assert readers
    for t in readers:
        r = execution.check(t, play(t, ground_truth_calls(t), answers=["I looked it up for you."]))
        assert not r.valid and r.error_type == "output_not_in_answer" and 0.0 < r.score < 1.0, t.id


def test_partial_credit_is_the_fraction_of_changes_reproduced(tasks):
    multi = [t for t in tasks if len(t.turns) == 1 and len(t.ground_truth[0]) >= 2 and _writes(t)]
    assert multi
    for t in multi:
        calls = ground_truth_calls(t)[0]
        full = execution.check(t, play(t, [calls])).score
        half = execution.check(t, play(t, [calls[:1]]))
        none = execution.check(t, play(t, [[]], answers=["Done."]))
        assert full == 1.0 > half.score > none.score, t.id


def test_unwanted_changes_cost_credit(tasks):
    """A repeated state-changing call: whenever it leaves a state other than the expected one, the
    episode is not valid and loses credit (a repeated idempotent write changes nothing and passes)."""
    seen = 0
    for t in (t for t in tasks if len(t.turns) == 1 and _writes(t)):
        calls = ground_truth_calls(t)[0]
        writes = [
            c for c, ro in zip(calls, execution.replay(t)["turns"][0]["readonly"], strict=True) if not ro
        ]
        ep = play(t, [calls + writes])
        r = execution.check(t, ep)
        if ep.final_state != execution.replay(t)["turns"][0]["state"]:
            seen += 1
            assert not r.valid and r.score < 1.0 and r.error_type == "state_mismatch", t.id
        else:
            assert r.valid, t.id
    assert seen


def test_multi_turn_is_checked_per_turn(tasks):
    t = next(t for t in tasks if len(t.turns) >= 2 and t.ground_truth[-1] and _writes(t))
    gt = ground_truth_calls(t)
    assert execution.check(t, play(t, gt)).valid
    stopped = gt[:-1] + [[]]
    r = execution.check(t, play(t, stopped))
    assert not r.valid and 0.0 < r.score < 1.0
    assert r.details["problems"][0]["turn"] == len(t.turns) - 1


def test_result_order_within_a_turn_does_not_matter(tasks):
    t = next(t for t in tasks if len(t.turns) == 1 and len(t.ground_truth[0]) >= 2 and not _writes(t))
    calls = ground_truth_calls(t)[0]
    assert execution.check(t, play(t, [calls[::-1]])).valid


def test_replay_uses_the_episode_env_seed(tasks):
    """A domain left out of `initial_state` gets the env's seeded default: the replay must use the
    seed the episode's env was reset with."""
    from dataclasses import replace

    base = next(t for t in tasks if len(t.turns) == 1 and _writes(t))
    t = replace(base, id=base.id + "-seeded", initial_state={}, expected_state=None)
    calls = ground_truth_calls(t)
    ep = play(t, calls, seed=5)
    ep.metadata = {"env_seed": 5}
    assert execution.check(t, ep).valid
    ep.metadata = {"env_seed": 6}
    assert not execution.check(t, ep).valid


def test_schema_only_tasks_are_not_applicable():
    t = Task(
        id="bfcl-like",
        category="simple",
        turns=[[{"role": "user", "content": "area of a 3x4 triangle"}]],
        tools=[
            {
                "name": "area",
                "description": "",
                "parameters": {"type": "dict", "properties": {"b": {"type": "integer"}}, "required": ["b"]},
            }
        ],
        ground_truth=[[{"area": {"b": [3]}}]],
    )
    r = execution.check(t, play(t, [[ToolCall("area", {"b": 3})]]))
    assert r.valid and r.score == 1.0 and r.error_type == "not_applicable"


def test_bfcl_multi_turn_agrees_with_bfcl_verdict():
    for t in bfcl.load("multi_turn_base", limit=4):
        gt_calls = ground_truth_calls(t)
        gold = play(t, gt_calls)
        assert execution.check(t, gold).valid, t.id
        theirs = bfcl.check_multi_turn(
            t, [[bfcl.result_text(r) for r in gold.results(k)] for k in range(len(t.turns))], gold.turn_states
        )
        assert theirs["valid"], t.id
        # Skip the last turn with calls: both verdicts fail.
        last = max(k for k, c in enumerate(gt_calls) if c)
        cut = play(t, gt_calls[:last] + [[]] * (len(gt_calls) - last))
        assert not execution.check(t, cut).valid
        theirs = bfcl.check_multi_turn(
            t, [[bfcl.result_text(r) for r in cut.results(k)] for k in range(len(t.turns))], cut.turn_states
        )
        assert not theirs["valid"]


# --- the pure helpers ------------------------------------------------------------------------------


def test_flatten_and_diff_at_leaf_level():
    a = {"acct": {"balance": 10, "history": [{"amt": 5}]}, "empty": {}}
    b = {"acct": {"balance": 15, "history": [{"amt": 5}, {"amt": 5}]}, "empty": {}}
    changed = diff(flatten(a), flatten(b))
    assert {p[:2] for p in changed} == {("acct", "balance"), ("acct", "history")}
    assert len(changed) == 2  # the appended record is one change (its multiplicity), not a shifted list
    assert diff(flatten(a), flatten(a)) == set()
    assert diff(flatten({"x": 1}), flatten({"x": 1.0})) == {("x",)}  # JSON types differ
    assert diff(flatten({"x": 1}), flatten({"x": True})) == {("x",)}


@pytest.mark.parametrize(
    "output,answer,ok",
    [
        ({"city": "Paris", "temperature": 21.5}, "It is 21.5 °C in Paris.", True),
        (
            {"city": "Paris", "temperature": 21.5},
            "It is nice in Paris.",
            False,
        ),  # the echoed city is no answer
        ({"balance": 1234.5}, "Your balance is $1,234.50.", True),
        ({"balance": 1234.0}, "You have 1234 dollars.", True),
        ({"count": 12}, "Since 2012.", False),
        ({"status": "confirmed", "city": "Paris"}, "Your booking is CONFIRMED.", True),
    ],
)
def test_output_in_answer(output, answer, ok):
    assert output_in_answer(output, answer, {"city": "Paris"}) is ok


# --- the scoring arithmetic, on a replay fixed by hand ---------------------------------------------


def _fixed(monkeypatch, initial, after, results=(), readonly=()):
    from envs.types import ToolResult

    res = [ToolResult(ToolCall(n, a), output=o) for n, a, o in results]
    gt = {
        "initial": initial,
        "turns": [
            {"state": after, "calls": [r.call for r in res], "results": res, "readonly": list(readonly)}
        ],
    }
    monkeypatch.setattr(execution, "replay", lambda task, **settings: gt)
    return Task(
        id="fixed", category="simple", turns=[[{"role": "user", "content": "x"}]], tools=[], ground_truth=[[]]
    )


def _episode(state, answer="", results=()):
    from envs.types import Episode, Step, ToolResult

    steps = [
        Step(turn=0, text="", calls=[ToolCall(n, a)], results=[ToolResult(ToolCall(n, a), output=o)])
        for n, a, o in results
    ]
    return Episode(
        task_id="fixed", steps=steps + [Step(turn=0, text=answer)], turn_states=[state], final_state=state
    )


def test_score_counts_reproduced_and_unwanted_changes(monkeypatch):
    t = _fixed(monkeypatch, {"d": {"a": 1, "b": 1, "c": 1}}, {"d": {"a": 2, "b": 2, "c": 1}})
    assert execution.check(t, _episode({"d": {"a": 2, "b": 2, "c": 1}})).valid
    assert execution.check(t, _episode({"d": {"a": 2, "b": 1, "c": 1}})).score == 0.5  # 1 of 2 changes
    r = execution.check(t, _episode({"d": {"a": 2, "b": 2, "c": 9}}))  # both, plus one unwanted change
    assert not r.valid and r.score == pytest.approx(2 / 3)
    assert execution.check(t, _episode({"d": {"a": 1, "b": 1, "c": 9}})).score == 0.0


def test_score_counts_responses_and_answers(monkeypatch):
    lookup = ("get_balance", {"account": "A1"}, {"account": "A1", "balance": 1234.5})
    t = _fixed(monkeypatch, {"d": {"x": 1}}, {"d": {"x": 1}}, results=[lookup], readonly=[True])
    assert execution.check(t, _episode({"d": {"x": 1}}, "You have $1,234.50.", [lookup])).valid
    r = execution.check(t, _episode({"d": {"x": 1}}, "Done.", [lookup]))
    assert r.error_type == "output_not_in_answer" and r.score == 0.5
    r = execution.check(t, _episode({"d": {"x": 1}}, "You have $1,234.50."))  # told, but never called
    assert r.error_type == "missing_response" and r.score == 0.5
