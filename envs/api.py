"""The base class of simulated APIs, and the helpers their methods share.

A simulated API is an ordinary class. Its public methods, with type hints and Google-style docstrings,
are its tools (see envs.toolspec). Rules that keep environments cheap, deterministic and safe:

- All episode state lives in `self.s`, one JSON-like dict (str keys; str/int/float/bool/None/list/dict
  values). The env snapshots and restores it around failing calls and reports it from `state()`.
- Methods are deterministic functions of `self.s` and their arguments: no clocks, no randomness (the env's
  RNG is only used to build a default state), so replaying the same calls gives the same state.
- Methods raise `ToolError` for a call that is well-formed but cannot succeed (unknown id, insufficient
  funds); the env turns it into an error value. Read-only methods carry `@readonly`.
- Methods return fresh JSON-like values, never references into `self.s`.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from envs.toolspec import Schema, ToolSpec, class_tools, readonly

__all__ = ["Schema", "SimulatedAPI", "ToolError", "readonly", "find_key", "new_id"]


class ToolError(Exception):
    """A call that is well-formed but cannot succeed; its message is shown to the policy."""


class SimulatedAPI:
    """Base class: subclasses set `domain`, implement `default_state`, and define tool methods."""

    domain: ClassVar[str] = ""

    def __init__(self, state: dict[str, Any]) -> None:
        self.s = state

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        """A fresh state for an episode without a task-provided one (drawn with the env's RNG)."""
        raise NotImplementedError

    @classmethod
    def tool_specs(cls) -> dict[str, ToolSpec]:
        """The class's tools by name (computed once per class)."""
        return class_tools(cls, base=SimulatedAPI)

    @classmethod
    def tools(cls) -> list[dict[str, Any]]:
        """OpenAI-form schemas of the class's tools."""
        return [spec.schema for spec in cls.tool_specs().values()]


def find_key(mapping: dict[str, Any], name: str, what: str) -> str:
    """The key of `mapping` matching `name` case-insensitively; ToolError listing the options otherwise."""
    if name in mapping:
        return name
    folded = name.strip().casefold()
    for key in mapping:
        if key.casefold() == folded:
            return key
    options = ", ".join(sorted(mapping)[:20])
    raise ToolError(f"unknown {what} {name!r}; known: {options}")


def new_id(state: dict[str, Any], prefix: str, counter: str = "next_id") -> str:
    """Takes the next id from the state's counter (ids come from state, never from an RNG)."""
    n = state[counter]
    state[counter] = n + 1
    return f"{prefix}{n}"
