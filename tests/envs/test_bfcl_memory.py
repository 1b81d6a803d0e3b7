"""envs/bfcl_memory.py: BFCL's memory questions, their prerequisite conversations, and the memory carried between them.

The prompts are checked against BFCL's own `add_memory_instruction_system_prompt`, and the memory against BFCL's own
persistence: the same scripted calls run through BFCL's backends with `_load_scenario` and
`_flush_memory_to_local_file` on snapshot files, as its harness does, must leave each question the same memory.
"""

import json
from collections import Counter

import pytest

from envs import bfcl, bfcl_memory
from envs.bfcl_multi_turn import _api_class, memory_snapshot
from envs.types import Episode, Step, Task, ToolCall
from rewards import agentic
from tests.oracles import bfcl_agentic as oracle

ROOT = bfcl.data_dir()
SCENARIOS = ("customer", "finance", "healthcare", "notetaker", "student")


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


QUESTIONS = _rows(ROOT / "BFCL_v4_memory.json")
ANSWERS = {r["id"]: r for r in _rows(ROOT / "possible_answer" / "BFCL_v4_memory.json")}


# ---------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", bfcl_memory.MEMORY_CATEGORIES)
def test_questions_load_with_bfcl_s_ids_answers_tools_and_prompt(category):
    tasks = bfcl.load(category)
    cls = bfcl_memory.MEMORY_BACKENDS[category]
    assert [t.id for t in tasks] == [r["id"].replace("memory", category, 1) for r in QUESTIONS] and len(tasks) == 155
    docs = _rows(ROOT / "multi_turn_func_doc" / f"{category}.json")
    fresh = _api_class(cls)()
    for task, row in zip(tasks, QUESTIONS, strict=True):
        assert Task.from_json(task.to_json()) == task
        assert task.metadata["bfcl_answers"] == ANSWERS[row["id"]]["ground_truth"]
        assert task.metadata["bfcl_memory_scenario"] == row["scenario"] and task.metadata["bfcl_scoring"] == "agentic"
        assert task.tools == docs and task.ground_truth == [[]] and task.initial_state == {cls: {}}
        # BFCL's prompt for the question, with an empty memory: answer format and memory instructions in one message.
        assert task.turns == oracle.bfcl_memory_prompt(row["question"], category, row["scenario"], fresh, agentic=True)
    assert {t.metadata["bfcl_memory_scenario"] for t in tasks} == set(SCENARIOS)


def test_the_vector_backend_is_not_loadable_here():
    assert "memory_vector" not in bfcl.BFCL_CATEGORIES
    with pytest.raises(ValueError, match="unknown BFCL category 'memory_vector'"):
        bfcl.load("memory_vector")


def test_limit_keeps_the_first_questions_and_bounds_the_prerequisite_turns():
    assert [t.id for t in bfcl.load("memory_kv", limit=3)] == [f"memory_kv_{i}-customer-{i}" for i in range(3)]
    full = bfcl_memory.prerequisite_tasks(ROOT, "memory_kv", "customer")
    raw = _rows(ROOT / "memory_prereq_conversation" / "memory_customer.json")
    assert [t.id for t in full] == [r["id"].replace("memory", "memory_kv", 1) for r in raw]
    assert [len(t.turns) for t in full] == [len(r["question"]) for r in raw] and sum(map(len, (t.turns for t in full))) == 109
    assert [len(t.turns) for t in bfcl_memory.prerequisite_tasks(ROOT, "memory_kv", "customer", limit=3)] == [3]
    cut = bfcl_memory.prerequisite_tasks(ROOT, "memory_rec_sum", "customer", limit=len(raw[0]["question"]) + 2)
    assert [len(t.turns) for t in cut] == [len(raw[0]["question"]), 2]
    assert cut[1].turns[1:] == raw[1]["question"][:2][1:] and cut[0].id == "memory_rec_sum_prereq_0-customer-0"


# ---------------------------------------------------------------------------------------------------
# Scripted play: the data's facts written with the backend's API, read back to answer
# ---------------------------------------------------------------------------------------------------


def _facts(scenario):
    """(index in the scenario, question id, source text) for each question of the scenario."""
    rows = [r for r in QUESTIONS if r["scenario"] == scenario]
    return [(j, r["id"], ANSWERS[r["id"]]["source"]) for j, r in enumerate(rows)]


def _writes(category, scenario, conversation, turn, conversations):
    """The calls a scripted policy makes in one prerequisite turn: each fact is written in turn 0 of one conversation."""
    if turn != 0:
        return []
    calls = []
    for j, _, source in _facts(scenario):
        if j % conversations != conversation:
            continue
        if category == "memory_rec_sum":
            calls.append(ToolCall("memory_append", {"text": f"fact_{j}: {source}\n"}))
        elif j < 3 and len(source) <= 300:
            calls.append(ToolCall("core_memory_add", {"key": f"fact_{j}", "value": source}))
        else:
            calls.append(ToolCall("archival_memory_add", {"key": f"fact_{j}", "value": source}))
    return calls


def _scripted_prerequisites(played):
    """A `play` that writes the facts; it records each conversation it was given."""

    def play(tasks):
        episodes = []
        for task in tasks:
            played.append(task)
            category, scenario = task.metadata["bfcl_category"], task.metadata["bfcl_memory_scenario"]
            chain = bfcl_memory.prerequisite_tasks(ROOT, category, scenario)
            k = [c.id for c in chain].index(task.id)
            env = bfcl.make_bfcl_env(task)
            steps = []
            for turn in range(len(task.turns)):
                calls = _writes(category, scenario, k, turn, len(chain))
                results = env.step(calls) if calls else []
                assert all(r.error is None and "error" not in r.output for r in results), results
                steps.append(Step(turn=turn, text="noted", calls=calls, results=results))
            episodes.append(Episode(task.id, steps=steps, final_state=env.state()))
        return episodes

    return play


def _answer(question):
    """A scripted policy's episode on a question: it reads its fact back from memory and answers with it."""
    env = bfcl.make_bfcl_env(question, max_output_chars=20_000)  # the whole memory: BFCL does not cut outputs
    j = int(question.id.rsplit("-", 1)[1])
    if question.metadata["bfcl_category"] == "memory_rec_sum":
        calls = [ToolCall("memory_retrieve", {})]
    else:
        calls = [ToolCall("core_memory_retrieve", {"key": f"fact_{j}"}), ToolCall("archival_memory_retrieve", {"key": f"fact_{j}"})]
    results = env.step(calls)
    outputs = [json.loads(r.output) for r in results]
    found = [o["value"] for o in outputs if "value" in o]
    for line in outputs[0].get("memory_content", "").splitlines():
        if line.startswith(f"fact_{j}: "):
            found.append(line.split(": ", 1)[1])
    value = found[0] if found else "I do not know"
    reply = f"{{'answer': {value!r}, 'context': 'from memory'}}"
    return Episode(question.id, steps=[Step(turn=0, text="[retrieve]", calls=calls, results=results),
                                       Step(turn=0, text=reply)])


@pytest.mark.parametrize("category", bfcl_memory.MEMORY_CATEGORIES)
def test_facts_written_in_the_prerequisite_conversations_answer_the_questions(category):
    questions = bfcl.load(category)
    played = []
    ready = bfcl_memory.play_prerequisites(questions, _scripted_prerequisites(played))
    assert [t.id for t in ready] == [t.id for t in questions]
    chains = {s: bfcl_memory.prerequisite_tasks(ROOT, category, s) for s in SCENARIOS}
    assert Counter(t.metadata["bfcl_memory_scenario"] for t in played) == {s: len(c) for s, c in chains.items()}
    assert all(t.metadata["bfcl_memory_prereqs"] == [c.id for c in chains[t.metadata["bfcl_memory_scenario"]]]
               for t in ready)

    # Passes exactly where BFCL's checker passes the fact itself as the answer: every fact survived the chain.
    def fact_reply(q):
        return Episode(q.id, steps=[Step(turn=0, text=f"{{'answer': {ANSWERS[q.id.replace(category, 'memory', 1)]['source']!r}, 'context': 'from memory'}}")])

    expected = {q.id for q in questions if oracle.official_verdict(fact_reply(q), q.metadata["bfcl_answers"])["valid"]}
    passed = {q.id for q in ready if agentic.check(q, _answer(q)).valid}
    assert passed == expected and len(expected) > 120
    # Without the prerequisite conversations the memory is empty, and nothing passes.
    assert not {q.id for q in questions if agentic.check(q, _answer(q)).valid}


@pytest.mark.parametrize("category", bfcl_memory.MEMORY_CATEGORIES)
def test_memory_and_prompts_equal_those_of_bfcl_s_own_snapshot_files(category, tmp_path):
    """BFCL's harness: each conversation's backend `_load_scenario`s the scenario's latest snapshot file, runs the
    calls and `_flush_memory_to_local_file`s; each question's backend loads the final one. Same calls, same memory."""
    cls = bfcl_memory.MEMORY_BACKENDS[category]
    questions = bfcl.load(category)
    played = []
    ready = {t.id: t for t in bfcl_memory.play_prerequisites(questions, _scripted_prerequisites(played))}
    ours_by_id = {t.id: t for t in played}

    def bfcl_backend(test_id, scenario):
        backend = _api_class(cls)()
        backend._load_scenario({"model_result_dir": tmp_path, "test_id": test_id, "scenario": scenario})
        return backend

    checked = Counter()
    for scenario in SCENARIOS:
        raw = _rows(ROOT / "memory_prereq_conversation" / f"memory_{scenario}.json")
        for k, row in enumerate(raw):
            test_id = row["id"].replace("memory", category, 1)
            backend = bfcl_backend(test_id, scenario)
            prompt = oracle.bfcl_memory_prompt(row["question"], category, scenario, backend, agentic=False)
            assert ours_by_id[test_id].turns == prompt  # the memory it starts from, shown as BFCL shows it
            for turn in range(len(row["question"])):
                for call in _writes(category, scenario, k, turn, len(raw)):
                    getattr(backend, call.name)(**call.arguments)
            backend._flush_memory_to_local_file()
            checked["conversations"] += 1
        for row in (r for r in QUESTIONS if r["scenario"] == scenario):
            test_id = row["id"].replace("memory", category, 1)
            backend = bfcl_backend(test_id, scenario)
            # Same memory, in the same order (the order shows in the prompt's dump and in key listings).
            snapshot_file = json.loads(backend.latest_snapshot_file.read_text())
            assert json.dumps(ready[test_id].initial_state[cls]) == json.dumps(snapshot_file)
            assert memory_snapshot(cls, backend) == snapshot_file
            assert ready[test_id].turns == oracle.bfcl_memory_prompt(row["question"], category, scenario, backend,
                                                                     agentic=True)
            checked["questions"] += 1
    assert checked == {"conversations": 37, "questions": 155}
    assert all(t.initial_state[cls] for t in ready.values())  # not vacuous: every question starts with facts


def test_prerequisites_are_played_in_the_questions_tool_mode_and_only_for_memory_questions():
    from envs.open_world import is_open, open_task

    other = bfcl.load("simple_python", limit=1)[0]
    questions = [open_task(q) for q in bfcl.load("memory_rec_sum", limit=2)]
    played = []
    ready = bfcl_memory.play_prerequisites([other, *questions], _scripted_prerequisites(played))
    assert ready[0] is other and [t.id for t in ready[1:]] == [q.id for q in questions]
    assert [t.id for t in played] == ["memory_rec_sum_prereq_0-customer-0"] and all(map(is_open, played))
    assert all(is_open(q) and q.initial_state["MemoryAPI_rec_sum"]["memory"].startswith("fact_0: ") for q in ready[1:])
