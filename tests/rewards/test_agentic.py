"""rewards/agentic.py: BFCL's answer check for memory questions. Golden cases, one per error type, then a differential
test against BFCL's own entry verdict over every memory question and perturbations of its answer."""

import json
import random
from collections import Counter

import pytest

from envs.bfcl import data_dir
from envs.types import Episode, Step, Task, ToolCall
from rewards import agentic
from tests.oracles import bfcl_agentic as oracle


def _task(answers):
    return Task(id="memory_kv_0-customer-0", category="multi_step", turns=[[{"role": "user", "content": "Name?"}]],
                tools=[], ground_truth=[[]], metadata={"bfcl_scoring": "agentic", "bfcl_answers": answers})


def _episode(*steps):
    return Episode("memory_kv_0-customer-0", steps=list(steps))


def _text(text, turn=0):
    return Step(turn=turn, text=text)


def _call(turn=0):
    return Step(turn=turn, text="[core_memory_retrieve(key='name')]", calls=[ToolCall("core_memory_retrieve", {"key": "name"})])


# ---------------------------------------------------------------------------------------------------
# Golden cases
# ---------------------------------------------------------------------------------------------------


def test_an_accepted_answer_in_the_last_text_reply_passes_whatever_the_case_and_removable_punctuation():
    r = agentic.check(_task(["Michael"]), _episode(_call(), _text("{'answer': 'MICHAEL', 'context': 'you said'}")))
    assert (r.score, r.valid, r.error_type, r.details) == (1.0, True, None, {"matched": "Michael"})
    assert agentic.check(_task(["April 1, 2024"]), _episode(_text("It was april 1 2024."))).valid
    assert agentic.check(_task(["coffee_creations_1237"]), _episode(_text("@Coffee-Creations-1237"))).valid
    assert agentic.check(_task(["Michael"]), _episode(_text("Michael"), _call())).valid  # a call after it: still the reply


def test_inference_error_when_the_episode_is_not_one_turn_of_steps():
    for episode in (_episode(), _episode(_text("Michael"), _text("Michael", turn=1))):
        r = agentic.check(_task(["Michael"]), episode)
        assert (r.score, r.valid, r.error_type) == (0.0, False, "agentic:inference_error")


def test_no_last_message_when_no_step_is_text_or_the_last_text_is_empty():
    for episode in (_episode(_call(), _call()), _episode(_text("Michael"), _text(""))):
        r = agentic.check(_task(["Michael"]), episode)
        assert (r.valid, r.error_type) == (False, "agentic:no_last_message")


def test_answer_not_found_without_word_boundaries_or_with_inner_whitespace_or_an_earlier_right_reply():
    cases = [
        (["Michael"], [_text("Your name is Michaelson.")]),
        (["35"], [_text("You are 1350 days old.")]),
        (["Seattle"], [_text("Sea ttle")]),  # whitespace is kept
        (["thirty five"], [_text("You are Thirty-Five.")]),  # "-" is removed: "thirtyfive"
        (["Michael"], [_text("Michael"), _text("I do not know")]),  # only the last text reply counts
    ]
    for answers, steps in cases:
        r = agentic.check(_task(answers), _episode(*steps))
        assert (r.valid, r.error_type) == (False, "agentic:answer_not_found"), steps
        assert r.details["answers"] == answers and r.details["normalized_answers"] == [a.lower() for a in answers]


def test_a_task_without_accepted_answers_is_an_error():
    with pytest.raises(ValueError, match="bfcl_answers"):
        agentic.check(Task("x", "multi_step", [[{"role": "user", "content": "?"}]], [], [[]]), _episode(_text("a")))


# ---------------------------------------------------------------------------------------------------
# Differential: BFCL's entry verdict (eval_runner._evaluate_single_agentic_entry + agentic_checker)
# ---------------------------------------------------------------------------------------------------


def test_verdict_and_error_type_equal_bfcl_s_on_every_memory_question_and_perturbations_of_its_answer():
    root = data_dir()
    rows = [json.loads(line) for line in (root / "possible_answer" / "BFCL_v4_memory.json").read_text().splitlines()
            if line.strip()]
    rng = random.Random(0)
    counts, verdicts, disagreements = Counter(), Counter(), []
    for row in rows:
        task = _task(row["ground_truth"])  # for its id
        others = [a for other in rows if other is not row for a in other["ground_truth"]]
        for kind, (episode, answers) in oracle.perturbations(task.id, row["ground_truth"], rng.choice(others),
                                                             rng).items():
            ours = agentic.check(_task(answers), episode)
            official = oracle.official_verdict(episode, answers)
            counts[kind] += 1
            verdicts[official["error_type"] or "valid"] += 1
            if (ours.valid, ours.error_type) != (official["valid"], official["error_type"]):
                disagreements.append((row["id"], kind, ours.error_type, official["error_type"]))
    assert not disagreements, disagreements[:10]
    assert len(rows) == 155 and counts == {kind: 155 for kind in oracle.PERTURBATIONS}
    assert sum(verdicts.values()) == 155 * len(oracle.PERTURBATIONS)
    # Not vacuous: every verdict occurs, and often (the exact answer passes; no step is an inference error).
    assert verdicts["valid"] >= 155 * 8 and verdicts["agentic:answer_not_found"] >= 155 * 3
    assert verdicts["agentic:no_last_message"] >= 155 * 3 and verdicts["agentic:inference_error"] == 155 * 2
