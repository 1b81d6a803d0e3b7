"""The registry of simulated domains, and check_env on each (plus proof that check_env can fail)."""

from __future__ import annotations

import random
from typing import Any

import pytest

import envs
from envs.api import SimulatedAPI, readonly
from envs.check import check_api
from envs.domains import DOMAINS, MODULES


def test_at_least_ten_domains_with_four_tools_each():
    domains = envs.list_domains()
    assert len(domains) >= 10
    for d in domains:
        assert len(DOMAINS[d].tool_specs()) >= 4, d


def test_tool_names_are_unique_across_domains():
    names = [n for cls in DOMAINS.values() for n in cls.tool_specs()]
    assert len(names) == len(set(names))


def test_domains_use_realistic_argument_types():
    seen: set[str] = set()

    def walk(schema: dict[str, Any]) -> None:
        seen.add(schema.get("type", "?"))
        if "enum" in schema:
            seen.add("enum")
        if schema.get("format") == "date":
            seen.add("date")
        if "default" in schema:
            seen.add("optional")
        for sub in (schema.get("properties") or {}).values():
            walk(sub)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"])

    for cls in DOMAINS.values():
        for spec in cls.tool_specs().values():
            walk(spec.schema["function"]["parameters"])
    assert {"string", "integer", "number", "boolean", "array", "object", "enum", "date", "optional"} <= seen


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_check_env(domain: str):
    envs.check_env(domain)


def test_every_domain_module_has_the_parts_the_generator_needs():
    for d, m in MODULES.items():
        assert DOMAINS[d].__module__ == m.__name__
        assert m.INTENTS and m.OUT_OF_SCOPE
        state = m.build_state(random.Random(0), "test")
        assert isinstance(state, dict) and state


class _Base(SimulatedAPI):
    domain = "broken"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return {"n": 0}

    def a(self, x: int) -> int:
        """A.

        Args:
            x: X.
        """
        return x

    def b(self, x: int) -> int:
        """B.

        Args:
            x: X.
        """
        return x

    def c(self, x: int) -> int:
        """C.

        Args:
            x: X.
        """
        return x


class SneakyReadonly(_Base):
    @readonly
    def d(self, x: int) -> int:
        """Claims to be read-only but is not.

        Args:
            x: X.
        """
        self.s["n"] += 1
        return x


class Undocumented(_Base):
    def d(self, x: int) -> int:
        """Forgot the Args section."""
        return x


class Nondeterministic(_Base):
    _calls = 0

    def d(self, x: int) -> int:
        """Depends on something outside the state.

        Args:
            x: X.
        """
        Nondeterministic._calls += 1
        return x + Nondeterministic._calls


class TooFewTools(SimulatedAPI):
    domain = "tiny"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return {}

    def only(self, x: int) -> int:
        """Only.

        Args:
            x: X.
        """
        return x


@pytest.mark.parametrize("cls, message", [
    (SneakyReadonly, "read-only tool d changed the state"),
    (Undocumented, "has no description"),
    (Nondeterministic, "different results"),
    (TooFewTools, "at least 4"),
])
def test_check_env_catches_broken_apis(cls: type[SimulatedAPI], message: str):
    with pytest.raises(AssertionError, match=message):
        check_api(cls)


def test_check_env_rejects_unknown_domains():
    with pytest.raises(AssertionError, match="unknown domain"):
        envs.check_env("atlantis")


def test_check_env_runs_on_a_generated_task_env():
    for task in envs.tasks.generate(4, "train", seed=0, categories=["multi_step", "parallel_multiple"]):
        envs.check_env(task)


def test_the_protocol_check_catches_an_env_that_raises_on_garbage_or_forgets_its_state():
    from envs.check import check_protocol
    from envs.types import ToolCall

    banking = DOMAINS["banking"]
    calls = [ToolCall("no_such_tool", {})]

    class Raising(envs.Env):
        def step(self, calls):
            if any(not isinstance(c, ToolCall) for c in calls):
                raise TypeError("not a ToolCall")
            return super().step(calls)

    with pytest.raises(AssertionError, match="step raised TypeError on the invalid call None"):
        check_protocol("raising", lambda: Raising([banking]), calls)

    class Unseeded(envs.Env):
        def reset(self, task=None, seed=None):
            return super().reset(task, seed=random.randrange(1 << 30))

    with pytest.raises(AssertionError, match="different initial states"):
        check_protocol("unseeded", lambda: Unseeded([banking]), calls)
