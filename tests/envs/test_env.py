"""The call gate: bad input, errors as values, truncation, time limits, env selection."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

import envs
from envs.api import SimulatedAPI, ToolError, readonly
from envs.env import Env, SchemaOnlyEnv
from envs.types import Task, ToolCall


class Counter(SimulatedAPI):
    """A toy API whose failures happen after it has started changing state."""

    domain = "counter"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return {"n": rng.randrange(100), "log": []}

    def add(self, k: int) -> dict[str, Any]:
        """Adds k.

        Args:
            k: Amount.
        """
        self.s["n"] += k
        self.s["log"].append(k)
        if k == 13:
            raise ToolError("13 is unlucky")  # the state was already changed: the env must undo it
        if k == 14:
            raise KeyError("a bug")
        return {"n": self.s["n"]}

    def spin(self, seconds: float) -> dict[str, Any]:
        """Changes state, then busy-loops.

        Args:
            seconds: How long to loop.
        """
        self.s["n"] = -1
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        return {"done": True}

    @readonly
    def dump(self, size: int) -> str:
        """Returns a long text.

        Args:
            size: Characters.
        """
        return "x" * size

    @readonly
    def leak(self) -> list[int]:
        """Returns a reference into the state (which the env must copy)."""
        return self.s["log"]


def test_errors_undo_partial_changes():
    env = Env([Counter])
    env.reset(seed=1)
    before = env.state()
    for k in (13, 14):
        (r,) = env.step([ToolCall("add", {"k": k})])
        assert r.error is not None and ("unlucky" in r.error or "KeyError" in r.error)
        assert env.state() == before
    (r,) = env.step([ToolCall("add", {"k": 2})])
    assert r.ok and r.output == {"n": before["counter"]["n"] + 2}


def test_unknown_tool_lists_available_tools():
    env = envs.make_env("weather")
    (r,) = env.step([ToolCall("get_wether", {"city": "Paris"})])
    assert "unknown tool 'get_wether'" in r.error
    for name in ("get_current_weather", "get_forecast", "subscribe_alerts"):
        assert name in r.error


def test_bad_arguments_are_errors():
    env = envs.make_env("weather")
    env.reset(seed=0)
    city = next(iter(env.state()["weather"]["cities"]))
    cases = {
        "missing required argument 'city'": {},
        "must be a string": {"city": 5},
        "unexpected argument 'town'": {"city": city, "town": city},
        "must be one of": {"city": city, "units": "kelvin"},
    }
    for message, args in cases.items():
        (r,) = env.step([ToolCall("get_current_weather", args)])
        assert r.error is not None and message in r.error, (message, r.error)
    (r,) = env.step([ToolCall("get_current_weather", {"city": city})])
    assert r.ok and r.output["city"] == city


def test_step_never_raises_on_garbage():
    env = Env([Counter])
    garbage = [None, 3, "add(k=1)", {"name": None}, {"name": "add", "arguments": "k=1"}, ToolCall(3, {}),  # type: ignore[arg-type]
               ToolCall("add", {1: 2}), ToolCall("add", {"k": float("inf")}), ToolCall("add", {"k": 10**40})]
    before = env.state()
    results = env.step(garbage)
    assert len(results) == len(garbage) and all(r.error for r in results)
    assert env.state() == before
    assert env.step(12345)[0].error  # not even a list
    assert env.step({"name": "add", "arguments": {"k": 1}})[0].ok  # one dict call is accepted


def test_outputs_are_truncated_and_copied():
    env = Env([Counter], max_output_chars=50)
    (r,) = env.step([ToolCall("dump", {"size": 500})])
    assert r.ok and isinstance(r.output, str) and r.output.startswith('"xxx')
    assert len(r.output) < 100 and "truncated 452 characters" in r.output
    (short,) = env.step([ToolCall("dump", {"size": 5})])
    assert short.output == "xxxxx"
    env.step([ToolCall("add", {"k": 1})])
    (leaked,) = env.step([ToolCall("leak", {})])
    leaked.output.append(99)
    assert env.state()["counter"]["log"] == [1]


def test_time_limit_interrupts_and_restores_state_in_any_thread():
    env = Env([Counter], call_timeout_s=0.1)
    env.reset(seed=3)
    before = env.state()
    results: list[Any] = []

    def run() -> None:
        results.append(env.step([ToolCall("spin", {"seconds": 30.0})])[0])

    start = time.perf_counter()
    worker = threading.Thread(target=run)  # not the main thread: signals could not do this
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the call was not interrupted"
    assert time.perf_counter() - start < 5
    assert "timed out" in results[0].error
    assert env.state() == before
    (ok,) = env.step([ToolCall("spin", {"seconds": 0.0})])  # the env still works afterwards
    assert ok.ok


def test_close_twice_and_step_after_close():
    env = envs.make_env(["banking", "shop"])
    env.close()
    env.close()
    (r,) = env.step([ToolCall("get_balance", {"account_id": "x"})])
    assert r.error == "the environment is closed"
    env.reset(seed=0)
    assert set(env.state()) == {"banking", "shop"}


def test_make_env_validates_names_and_rejects_tool_collisions():
    with pytest.raises(ValueError, match="unknown domains"):
        envs.make_env("nope")

    class Clash(SimulatedAPI):
        domain = "clash"

        def add(self, k: int) -> int:
            """Adds.

            Args:
                k: K.
            """
            return k

    with pytest.raises(ValueError, match="defined by both"):
        Env([Counter, Clash])


def _task(**kw: Any) -> Task:
    base = dict(id="t1", category="simple", turns=[[{"role": "user", "content": "hi"}]], tools=[], ground_truth=[[]])
    return Task(**{**base, **kw})


def test_reset_uses_task_state_and_offered_tools():
    env = Env([Counter])
    tools = [Counter.tool_specs()["add"].schema]
    task = _task(domains=["counter"], tools=tools, initial_state={"counter": {"n": 7, "log": []}})
    assert env.reset(task) == [{"role": "user", "content": "hi"}]
    assert env.state() == {"counter": {"n": 7, "log": []}}
    (r,) = env.step([ToolCall("dump", {"size": 1})])  # exists, but the task does not offer it
    assert "unknown tool 'dump'" in r.error and "available tools: add" in r.error
    env.step([ToolCall("add", {"k": 1})])
    assert task.initial_state == {"counter": {"n": 7, "log": []}}  # the task's own state is never mutated


def test_env_for_task_picks_the_right_env(monkeypatch: pytest.MonkeyPatch):
    env = envs.env_for_task(_task(domains=["weather", "banking"]))
    assert isinstance(env, Env) and env.domains == ["weather", "banking"]

    tool = {"name": "add", "description": "Adds", "parameters": {"type": "dict", "properties": {
        "a": {"type": "float"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}
    env = envs.env_for_task(_task(tools=[tool]))
    assert isinstance(env, SchemaOnlyEnv)
    good, bad, unknown = env.step([ToolCall("add", {"a": 1, "b": 2}), ToolCall("add", {"a": "x", "b": 2}),
                                   ToolCall("mul", {})])
    assert good.ok and good.output["status"] == "ok"
    assert "must be a number" in bad.error and "available tools: add" in unknown.error

    from envs import bfcl

    sentinel = object()
    seen: dict[str, Any] = {}

    def fake(task: Task, **limits: Any) -> object:
        seen.update(limits)
        return sentinel

    monkeypatch.setattr(bfcl, "make_bfcl_env", fake)
    got = envs.env_for_task(_task(metadata={"bfcl_involved_classes": ["GorillaFileSystem"]}), call_timeout_s=2.0)
    assert got is sentinel and seen == {"call_timeout_s": 2.0}
