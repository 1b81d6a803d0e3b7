"""Core types: Task JSONL round-trip and errors that name the line and the field."""

import json

import pytest

from envs.types import Episode, Step, Task, TaskFormatError, ToolCall, ToolResult, read_tasks, write_tasks


def _task(**kw):
    base = dict(
        id="t1",
        category="parallel",
        turns=[[{"role": "user", "content": "Weather in Paris and Oslo? ☀"}]],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        ground_truth=[[{"get_weather": {"city": ["Paris"]}}, {"get_weather": {"city": ["Oslo"]}}]],
        domains=["weather"],
        initial_state={"weather": {"x": 1}},
        expected_state={"weather": {"x": 1}},
        metadata={"template_id": "w3"},
    )
    base.update(kw)
    return Task(**base)


def test_task_round_trips_through_one_json_line(tmp_path):
    t = _task()
    line = t.to_json()
    assert "\n" not in line
    assert Task.from_json(line) == t
    path = tmp_path / "tasks.jsonl"
    assert write_tasks([t, _task(id="t2")], path) == 2
    assert [x.id for x in read_tasks(path)] == ["t1", "t2"]


def test_task_file_loads_with_datasets(tmp_path):
    from datasets import load_dataset  # `datasets` must be able to read our JSONL as-is

    path = tmp_path / "tasks.jsonl"
    write_tasks([_task(), _task(id="t2")], path)
    ds = load_dataset("json", data_files=str(path), split="train")
    assert ds.num_rows == 2 and ds[1]["id"] == "t2"


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda r: r.pop("turns"), "turns"),
        (lambda r: r.update(category="chitchat"), "category"),
        (lambda r: r.update(tools="get_weather"), "tools"),
        (lambda r: r.update(ground_truth=[[{"get_weather": {"city": "Paris"}}]]), "ground_truth[0].get_weather"),
        (lambda r: r.update(ground_truth=[]), "ground_truth"),
        (lambda r: r.update(colour="red"), "colour"),
        (lambda r: r.update(turns=[["hello"]]), "turns[0]"),
    ],
)
def test_bad_task_file_names_line_and_field(tmp_path, mutate, field):
    good = json.loads(_task().to_json())
    bad = json.loads(_task(id="t2").to_json())
    mutate(bad)
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(TaskFormatError) as e:
        read_tasks(path)
    assert f"{path}:2: {field}" in str(e.value)


def test_corrupt_json_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(_task().to_json() + "\n\n" + '{"id": "t3", "categ\n')
    with pytest.raises(TaskFormatError, match=r"tasks.jsonl:3: invalid JSON"):
        read_tasks(path)


def test_episode_accessors_and_round_trip():
    call = ToolCall("get_weather", {"city": "Paris"})
    ep = Episode(
        task_id="t1",
        steps=[
            Step(turn=0, text="[get_weather(city='Paris')]", calls=[call], results=[ToolResult(call, output=21)], num_tokens=9),
            Step(turn=0, text="It is 21 degrees.", num_tokens=6),
            Step(turn=1, text="bad", parse_error="oops", num_tokens=1),
        ],
    )
    assert ep.calls(0) == [call] and ep.calls(1) == []
    assert ep.final_answer(0) == "It is 21 degrees." and ep.num_tokens == 16
    assert Episode.from_dict(json.loads(json.dumps(ep.to_dict()))) == ep
    assert ToolResult(call, error="boom").observation() == {"error": "boom"}
