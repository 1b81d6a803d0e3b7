"""envs/open_world.py: open mode, where the prompt offers only search_tools and retrieved tools become callable."""

import pytest

import envs
from envs import bfcl, open_world, tasks
from envs.open_world import MAX_K, SEARCH_TOOL_NAME, golden_task, offered_tools, open_task
from envs.types import ToolCall


def _search(query, k=5):
    return ToolCall(SEARCH_TOOL_NAME, {"query": query, "k": k})


@pytest.fixture(scope="module")
def task():
    return tasks.generate(1, "test", seed=5, categories=["simple"], domains=["weather"])[0]


def test_open_and_golden_are_the_same_task_with_another_offer(task):
    opened = open_task(task)
    assert open_world.is_open(opened) and not open_world.is_open(task)
    assert (opened.tools, opened.ground_truth, opened.turns) == (task.tools, task.ground_truth, task.turns)
    assert offered_tools(opened) == [open_world.SEARCH_TOOL] and offered_tools(task) == task.tools
    assert golden_task(opened) == task and golden_task(task) is task


def test_only_search_is_available_until_a_search_returns_tools(task):
    env = envs.env_for_task(open_task(task))
    assert env.reset(open_task(task), seed=0) == task.turns[0]
    assert env.available_tools == [SEARCH_TOOL_NAME] and env.tools == [open_world.SEARCH_TOOL]
    ((name, _),) = task.ground_truth[0][0].items()
    (refused,) = env.step([ToolCall(name, {})])
    assert "never returned by search_tools" in refused.error
    (found,) = env.step([_search(task.turns[0][-1]["content"], MAX_K)])
    names = [t["name"] for t in found.output]
    assert len(names) == MAX_K and env.available_tools == [SEARCH_TOOL_NAME, *names]
    assert all(set(t) == {"name", "description", "parameters"} for t in found.output)


@pytest.mark.parametrize("args", [{}, {"query": ""}, {"query": "x", "k": 0}, {"query": "x", "k": MAX_K + 1},
                                  {"query": "x", "k": "5"}, {"query": "x", "top": 3}])
def test_bad_search_arguments_are_error_observations_and_do_not_count(task, args):
    env = envs.env_for_task(open_task(task), max_searches=1)
    env.reset(open_task(task))
    (bad,) = env.step([ToolCall(SEARCH_TOOL_NAME, args)])
    assert bad.error and SEARCH_TOOL_NAME in bad.error
    (good,) = env.step([_search("weather")])
    assert good.error is None  # the one allowed search is still there


def test_a_retrieved_tool_of_another_world_gets_that_world_s_error(task):
    env = envs.env_for_task(open_task(task))
    env.reset(open_task(task))
    (found,) = env.step([_search("book a flight between two airports", 3)])
    foreign = next(t["name"] for t in found.output if t["name"] not in {s["function"]["name"] for s in env.inner.tools})
    (result,) = env.step([ToolCall(foreign, {})])
    assert result.error and "unknown tool" in result.error


@pytest.mark.parametrize("source", ["toolgym", "bfcl_ast", "bfcl_multi_turn"])
def test_every_kind_of_env_passes_check_env_in_open_mode(source):
    task = {"toolgym": lambda: tasks.generate(1, "test", seed=2, categories=["multi_step"])[0],
            "bfcl_ast": lambda: bfcl.load("simple_python", limit=1)[0],
            "bfcl_multi_turn": lambda: bfcl.load("multi_turn_base", limit=1)[0]}[source]()
    envs.check_env(open_task(task))
