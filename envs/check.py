"""envs.check_env: the env contract, checked on every simulated domain and on every other kind of env the
episode runner can get (schema-only, BFCL multi-turn) by the tests.

The protocol checks (`check_protocol`), for any `ToolEnv`, each failing with an AssertionError that names the
env and the problem:
- `tools` lists OpenAI-style schemas, and `reset` returns the task's first user turn;
- determinism: two envs reset with the same seed, given the same calls, give identical results and states,
  and a reset restores the initial state;
- state: JSON-serialisable;
- garbage calls (not a call, an unknown tool, arguments that are not an object) return errors as values and
  leave the state untouched; the unknown-tool error lists the available tools;
- close() twice is safe, a closed env answers with errors, and reset reopens it.

On top, for a simulated API domain (`check_domain`):
- shape: at least 4 tools; every tool's schema matches its method's signature (names, order, required
  set, defaults) and is documented;
- ground truth: generated tasks for the domain replay without error to their expected state;
- `@readonly` tools never change the state;
- schema-invalid calls (missing/unexpected arguments, wrong types) are refused and change nothing.
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable, Sequence
from typing import Any

from envs.api import SimulatedAPI
from envs.domains import DOMAINS
from envs.env import Env, ToolEnv
from envs.replay import replay, tool_parameters, turn_calls
from envs.toolspec import ToolSpec, function_schema
from envs.types import Task, ToolCall


def check_domain(domain: str) -> None:
    """Runs every check on a registered domain; raises AssertionError with the reason."""
    if domain not in DOMAINS:
        raise AssertionError(f"unknown domain {domain!r}; known: {sorted(DOMAINS)}")
    check_api(DOMAINS[domain], _valid_calls(domain))


def check_api(cls: type[SimulatedAPI], valid_calls: Sequence[ToolCall] = ()) -> None:
    """Runs the checks on any SimulatedAPI class, with extra known-good calls to exercise it."""
    domain = cls.domain or cls.__name__
    specs = cls.tool_specs()
    _require(len(specs) >= 4, domain, f"has {len(specs)} tools; a domain needs at least 4")
    for spec in specs.values():
        _check_schema(domain, spec)
    calls = list(valid_calls) + _random_calls(cls, specs, n_per_tool=4)
    check_protocol(domain, lambda: Env([cls]), calls)
    _check_readonly(cls, specs, calls)
    _check_invalid_calls(cls, specs)


def check_task_env(task: Task) -> None:
    """Runs the protocol checks on the env a task gets (`envs.env_for_task`), driven by its ground truth."""
    from envs import env_for_task

    if "bfcl_involved_classes" in task.metadata:
        from envs.bfcl import ground_truth_calls

        calls = [c for turn in ground_truth_calls(task) for c in turn]
    else:
        params = tool_parameters(task.tools)
        calls = [c for turn in task.ground_truth for c in turn_calls(turn, params)]
    _require(bool(calls), task.id, "has no ground-truth call to exercise its env with")
    check_protocol(f"env of task {task.id}", lambda: env_for_task(task), calls, task)


def check_protocol(name: str, make_env: Callable[[], ToolEnv], calls: Sequence[ToolCall], task: Task | None = None) -> None:
    """The `ToolEnv` contract (module doc) on fresh envs from `make_env`, exercised with `calls` (known-good or
    random; errors are fine) after `reset(task, seed)`."""
    env = make_env()
    _require(isinstance(env, ToolEnv), name, f"{type(env).__name__} does not implement the ToolEnv protocol")
    _require(all(t.get("type") == "function" and "name" in t.get("function", {}) for t in env.tools), name,
             "tools are not OpenAI-style function schemas")
    if task is not None:
        _require(env.reset(task, seed=0) == [dict(m) for m in task.turns[0]], name, "reset does not return the first user turn")
    _check_determinism(name, make_env, list(calls), task)
    _check_garbage(name, make_env, task)
    _check_close(name, make_env, calls[0], task)


def _require(ok: bool, domain: str, message: str) -> None:
    if not ok:
        raise AssertionError(f"{domain}: {message}")


def _check_schema(domain: str, spec: ToolSpec) -> None:
    where = f"{domain}.{spec.name}"
    fn = spec.schema["function"]
    params = fn["parameters"]
    props, required = params["properties"], params["required"]
    sig = [p for name, p in inspect.signature(spec.fn).parameters.items() if name != "self"]
    _require(list(props) == [p.name for p in sig], where, f"schema parameters {list(props)} != signature {[p.name for p in sig]}")
    _require(required == [p.name for p in sig if p.default is p.empty], where, f"required {required} does not match the signature")
    for p in sig:
        if p.default is not p.empty:
            _require(props[p.name].get("default") == p.default, where, f"default of {p.name!r} differs from the signature")
            if p.default is not None:
                err = spec.validate({**{r: _example(props[r]) for r in required}, p.name: p.default})
                _require(err is None, where, f"the default of {p.name!r} does not validate: {err}")
        _require(bool(props[p.name].get("description")), where, f"parameter {p.name!r} has no description (Args: section)")
    _require(bool(fn["description"]), where, "has no description (docstring summary)")
    _require(function_schema(spec.fn) == spec.schema, where, "the cached schema was modified after it was built")


def _example(schema: dict[str, Any]) -> Any:
    """Some valid value for a schema (for checking defaults next to the required arguments)."""
    return _random_value(schema, random.Random(0), ["x"])


def _valid_calls(domain: str) -> list[ToolCall]:
    """Ground-truth calls of generated tasks; each task must replay cleanly to its expected state."""
    from envs.tasks import TEST_ONLY_DOMAINS, generate

    split = "test" if domain in TEST_ONLY_DOMAINS else "train"
    calls: list[ToolCall] = []
    tasks = generate(16, split, seed=0, categories=["simple", "multi_step", "multi_turn", "parallel"], domains=[domain])
    for task in tasks:
        states, results = replay(task)
        errors = [r.error for turn in results for r in turn if not r.ok]
        _require(not errors, domain, f"task {task.id}: ground truth fails: {errors[:1]}")
        _require(states[-1] == task.expected_state, domain, f"task {task.id}: replay does not reach expected_state")
        params = tool_parameters(task.tools)
        calls += [c for turn in task.ground_truth for c in turn_calls(turn, params)]
    return calls


def _random_calls(cls: type[SimulatedAPI], specs: dict[str, ToolSpec], n_per_tool: int) -> list[ToolCall]:
    """Schema-valid calls with arguments drawn at random (often about unknown ids: errors are fine)."""
    rng = random.Random(f"check:{cls.domain}")
    env = Env([cls])
    env.reset(seed=0)
    words = _strings(env.state())
    calls = []
    for name, spec in specs.items():
        for _ in range(n_per_tool):
            args = _random_value(spec.schema["function"]["parameters"], rng, words)
            calls.append(ToolCall(name, args))
    rng.shuffle(calls)
    return calls


def _strings(value: Any) -> list[str]:
    """The names and ids a call can refer to: string values, and the keys of collections of records."""
    out: list[str] = []

    def collect(v: Any) -> None:
        if isinstance(v, dict):
            records = bool(v) and all(isinstance(x, dict) for x in v.values())
            for k, x in v.items():
                if records:
                    out.append(str(k))
                collect(x)
        elif isinstance(v, list):
            for x in v:
                collect(x)
        elif isinstance(v, str):
            out.append(v)

    collect(value)
    return out or ["x"]


def _random_value(schema: dict[str, Any], rng: random.Random, words: list[str]) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    typ = schema.get("type")
    lo, hi = schema.get("minimum", 0), schema.get("maximum", 100)
    if typ == "integer":
        return rng.randint(int(lo), int(hi))
    if typ == "number":
        return round(rng.uniform(lo, hi), 2)
    if typ == "boolean":
        return rng.random() < 0.5
    if typ == "string":
        if schema.get("format") == "date":
            return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if schema.get("pattern"):  # only HH:MM times use a pattern in our domains
            return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
        return rng.choice(words)
    if typ == "array":
        return [_random_value(schema.get("items", {}), rng, words) for _ in range(rng.randint(1, 2))]
    if typ == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return {k: _random_value(s, rng, words) for k, s in props.items() if k in required or rng.random() < 0.5}
    return rng.choice(words)


def _check_determinism(name: str, make_env: Callable[[], ToolEnv], calls: list[ToolCall], task: Task | None) -> None:
    a, b = make_env(), make_env()
    for seed in (0, 12345):
        a.reset(task, seed=seed)
        b.reset(task, seed=seed)
        start = a.state()
        _require(start == b.state(), name, f"reset(seed={seed}) gives different initial states")
        _require(json.loads(json.dumps(start)) == start, name, "state() is not JSON-serialisable losslessly")
        for call in calls:
            ra, rb = a.step([call])[0], b.step([call])[0]
            _require(ra.to_dict() == rb.to_dict(), name, f"{call.name} gives different results under one seed")
            _require(a.state() == b.state(), name, f"{call.name} leaves different states under one seed")
            json.dumps(ra.output)
        a.reset(task, seed=seed)
        _require(a.state() == start, name, f"reset(seed={seed}) does not restore the initial state")


def _check_readonly(cls: type[SimulatedAPI], specs: dict[str, ToolSpec], calls: list[ToolCall]) -> None:
    domain = cls.domain
    env = Env([cls])
    env.reset(seed=1)
    for call in calls:
        before = env.state()
        env.step([call])
        if specs[call.name].readonly:
            _require(env.state() == before, domain, f"read-only tool {call.name} changed the state")


def _wrong_value(schema: dict[str, Any]) -> Any:
    return {"string": 12345, "integer": "seven", "number": "many", "boolean": "yes", "array": "not a list",
            "object": 5}.get(schema.get("type"), object())


def _check_garbage(name: str, make_env: Callable[[], ToolEnv], task: Task | None) -> None:
    env = make_env()
    env.reset(task, seed=2)
    before = env.state()
    tools = [t["function"]["name"] for t in env.tools]
    bad: list[Any] = [ToolCall("no_such_tool", {}), None, 42, "get_everything()", {"name": 3}, ToolCall(7, {})]  # type: ignore[arg-type]
    bad += [ToolCall(tool, "not a dict") for tool in tools]  # type: ignore[arg-type]
    for call in bad:
        try:
            results = env.step([call])
        except Exception as e:  # noqa: BLE001 - the contract is errors as values
            raise AssertionError(f"{name}: step raised {type(e).__name__} on the invalid call {call!r}") from None
        _require(len(results) == 1 and results[0].error is not None, name, f"invalid call {call!r} did not return an error")
        _require(env.state() == before, name, f"invalid call {call!r} changed the state")
    err = env.step([ToolCall("no_such_tool", {})])[0].error or ""
    _require(all(tool in err for tool in tools), name, f"the unknown-tool error does not list the tools: {err!r}")


def _check_invalid_calls(cls: type[SimulatedAPI], specs: dict[str, ToolSpec]) -> None:
    domain = cls.domain
    env = Env([cls])
    env.reset(seed=2)
    before = env.state()
    bad: list[Any] = []
    for name, spec in specs.items():
        params = spec.schema["function"]["parameters"]
        valid = {r: _example(params["properties"][r]) for r in params["required"]}
        bad.append(ToolCall(name, {**valid, "definitely_not_a_parameter": 1}))
        for r in params["required"]:
            bad.append(ToolCall(name, {k: v for k, v in valid.items() if k != r}))
        for p, s in params["properties"].items():
            bad.append(ToolCall(name, {**valid, p: _wrong_value(s)}))
    for call in bad:
        results = env.step([call])
        _require(len(results) == 1 and results[0].error is not None, domain, f"invalid call {call!r} did not return an error")
        _require(env.state() == before, domain, f"invalid call {call!r} changed the state")


def _check_close(name: str, make_env: Callable[[], ToolEnv], call: ToolCall, task: Task | None) -> None:
    env = make_env()
    env.reset(task, seed=0)
    opened = env.state()
    env.close()
    env.close()
    result = env.step([call])[0]
    _require(result.error is not None, name, "a closed env still executes calls")
    env.reset(task, seed=0)
    _require(env.state() == opened, name, "reset after close does not reopen the env in its initial state")
    fresh = make_env()
    fresh.reset(task, seed=0)
    _require(env.step([call])[0].to_dict() == fresh.step([call])[0].to_dict(), name,
             "a reopened env answers a call differently from a fresh one")
