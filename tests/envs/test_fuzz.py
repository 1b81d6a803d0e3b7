"""Fuzzing every domain: random and garbage calls never raise, and a failing call never changes state."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs
from envs.check import _random_value, _strings
from envs.domains import DOMAINS
from envs.env import SchemaOnlyEnv
from envs.types import ToolCall

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
garbage = json_values | st.binary(max_size=8) | st.tuples(st.integers()) | st.just(object()) | st.integers(min_value=10**20)


def _call_strategy(domain: str) -> st.SearchStrategy[Any]:
    specs = DOMAINS[domain].tool_specs()
    names = st.sampled_from(sorted(specs)) | st.text(max_size=12)
    env = envs.make_env(domain)
    env.reset(seed=0)
    words = _strings(env.state())

    @st.composite
    def schema_valid(draw: st.DrawFn) -> ToolCall:
        # Valid-looking arguments drawn from the schema, names and ids taken from the state: these reach
        # the simulated API itself (and its ToolErrors), not just the validator.
        name = draw(st.sampled_from(sorted(specs)))
        rng = random.Random(draw(st.integers(0, 2**32)))
        return ToolCall(name, _random_value(specs[name].schema["function"]["parameters"], rng, words))

    @st.composite
    def mutated(draw: st.DrawFn) -> ToolCall:
        call = draw(schema_valid())
        args = dict(call.arguments)
        keys = sorted(specs[call.name].schema["function"]["parameters"]["properties"]) + ["zz_extra"]
        for _ in range(draw(st.integers(1, 2))):
            key = draw(st.sampled_from(keys))
            if draw(st.booleans()):
                args[key] = draw(garbage)
            else:
                args.pop(key, None)
        return ToolCall(call.name, args)

    raw = st.builds(ToolCall, names, st.dictionaries(st.text(max_size=10) | st.integers(), garbage, max_size=4) | garbage)
    dict_call = st.fixed_dictionaries({"name": names | garbage, "arguments": garbage})
    return schema_valid() | mutated() | raw | dict_call | garbage


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_fuzz_domain(domain: str):
    env = envs.make_env(domain)
    outcomes = {"ok": 0, "error": 0}

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, derandomize=True)
    @given(st.lists(_call_strategy(domain), min_size=1, max_size=4))
    def run(calls: list[Any]) -> None:
        env.reset(seed=0)
        for call in calls:
            before = env.state()
            results = env.step([call])  # must not raise
            assert len(results) == 1
            if results[0].error is not None:
                assert env.state() == before, (call, results[0].error)
            outcomes["ok" if results[0].ok else "error"] += 1

    run()
    # Hypothesis draws small integers far more often than large ones, so the schema-valid seeds above
    # repeat and may all fail in a domain whose calls mostly need an existing id (banking). A fixed sweep
    # of seeds guarantees the success path is exercised too, under the same invariants.
    specs = DOMAINS[domain].tool_specs()
    env.reset(seed=0)
    words = _strings(env.state())
    for seed in range(100):
        rng = random.Random(seed)
        name = rng.choice(sorted(specs))
        env.reset(seed=0)
        before = env.state()
        result = env.step([ToolCall(name, _random_value(specs[name].schema["function"]["parameters"], rng, words))])[0]
        if result.error is not None:
            assert env.state() == before, (name, result.error)
        outcomes["ok" if result.ok else "error"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0, outcomes  # both paths were exercised


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.fixed_dictionaries({"name": st.text(max_size=6) | garbage, "arguments": garbage}), max_size=4))
def test_fuzz_schema_only_env(calls: list[Any]):
    tool = {"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "integer"}, "y": {"type": "any"}},
                                        "required": ["x"]}}
    env = SchemaOnlyEnv([tool])
    results = env.step(calls)
    assert len(results) == len(calls)
    for c, r in zip(calls, results, strict=True):
        valid = c["name"] == "f" and isinstance(c["arguments"], dict) and type(c["arguments"].get("x")) is int \
            and abs(c["arguments"]["x"]) <= 1e15 and set(c["arguments"]) <= {"x", "y"}
        assert r.ok == valid, (c, r)
