"""Environments: the text-action protocol (`ToolEnv`) and the call gate every env shares (`BaseEnv`).

    env = envs.env_for_task(task)               # envs/__init__.py: simulated, schema-only or BFCL multi-turn
    messages = env.reset(task, seed)            # state from task.initial_state, or a seeded default
    results = env.step([ToolCall(...), ...])    # one ToolResult per call; never raises
    env.state()                                 # canonical JSON-like state
    env.close()                                 # idempotent
    env.tools                                   # the tools a call may name, as OpenAI-style schemas

Every call goes through the same gate (`BaseEnv._call`): it must name an available tool, its arguments
must validate against the schema, it runs under a time limit, and its output is copied and truncated.
A call that fails for any reason leaves the state exactly as it was.
"""

from __future__ import annotations

import json
import marshal
import random
import time
import zlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from envs.api import SimulatedAPI, ToolError
from envs.argcheck import compile_parameters
from envs.schema import normalize_tool, tool_name
from envs.timeout import WATCHDOG, CallTimeout
from envs.toolspec import ToolSpec
from envs.types import Task, ToolCall, ToolResult

DEFAULT_MAX_OUTPUT_CHARS = 1000
DEFAULT_CALL_TIMEOUT_S = 1.0
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)  # built once: json.dumps(**kw) builds one per call
_JSON_CHARS_PER_MARSHAL_BYTE = 7


def stable_seed(text: str) -> int:
    """A seed derived from text that is the same in every process (unlike `hash`)."""
    return zlib.crc32(text.encode("utf-8"))


def copy_state(value: Any) -> Any:
    """A deep copy of JSON-like data. marshal is several times faster than copy.deepcopy here."""
    return marshal.loads(marshal.dumps(value))


@runtime_checkable
class ToolEnv(Protocol):
    """What the episode runner and the rewards call on an env; `envs.check_env` checks the contract."""

    tools: list[dict[str, Any]]

    def reset(self, task: Task | None = None, seed: int | None = None) -> list[dict[str, Any]]:
        """Starts an episode from the task's initial state; returns the first user turn's messages."""
        ...

    def step(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Executes calls in order; one result per call. Never raises: bad input is an error value."""
        ...

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the state (what execution rewards compare)."""
        ...

    def close(self) -> None:
        """Releases the episode; safe to call twice, and `reset` reopens."""
        ...


class BaseEnv:
    """The call gate shared by all environments (simulated domains, schema-only, BFCL multi-turn).
    Subclasses provide `_lookup` and `_invoke`, and may override the output and error hooks.

    Args:
        max_output_chars: Outputs whose JSON text is longer are cut to this many characters.
        call_timeout_s: Time limit of one call; None or <= 0 disables it.
    """

    def __init__(
        self,
        *,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        call_timeout_s: float | None = DEFAULT_CALL_TIMEOUT_S,
    ) -> None:
        self.max_output_chars = int(max_output_chars)
        self.call_timeout_s = call_timeout_s if call_timeout_s and call_timeout_s > 0 else None
        self.closed = False
        self.tools: list[dict[str, Any]] = []

    # -- protocol -------------------------------------------------------------------------------
    def reset(self, task: Task | None = None, seed: int | None = None) -> list[dict[str, Any]]:
        self.closed = False
        return [dict(m) for m in task.turns[0]] if task is not None else []

    def step(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Executes calls in order; returns one result per call. Never raises on bad input."""
        if isinstance(calls, (ToolCall, dict)):
            calls = [calls]
        try:
            items = list(calls)
        except Exception:  # noqa: BLE001 - garbage in, an error value out
            return [ToolResult(ToolCall("", {}), error=f"step expects a list of calls, got {type(calls).__name__}")]
        return [self._call(c) for c in items]

    def state(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        self.closed = True

    @property
    def available_tools(self) -> list[str]:
        """Names of the tools a call may use now."""
        return [tool_name(t) for t in self.tools]

    # -- the call gate --------------------------------------------------------------------------
    def _call(self, raw: Any) -> ToolResult:
        call = _as_call(raw)
        if call is None:
            return ToolResult(ToolCall(str(getattr(raw, "name", "")), {}),
                              error=f"a call must be a ToolCall or {{'name': str, 'arguments': dict}}, got {type(raw).__name__}")
        if self.closed:
            return ToolResult(call, error="the environment is closed")
        entry = self._lookup(call.name)
        if entry is None:
            return ToolResult(call, error=f"unknown tool {call.name!r}; available tools: {', '.join(self.available_tools)}")
        err = entry.validate(call.arguments)
        if err is not None:
            return ToolResult(call, error=f"{call.name}: {err}")
        try:
            output, error = self._run(entry, call)
        except CallTimeout:  # arrived outside the guarded region (very late); still just an error value
            output, error = None, f"{call.name}: timed out after {self.call_timeout_s} s"
        if error is not None:
            return ToolResult(call, error=error)
        return ToolResult(call, output=output)

    def _run(self, entry: Any, call: ToolCall) -> tuple[Any, str | None]:
        """Runs one validated call under the time limit; returns (output, error)."""
        snapshot = self._snapshot(entry)
        timeout = self.call_timeout_s
        error: str | None = None
        output: Any = None
        start = time.perf_counter()
        try:
            try:
                if timeout is not None:
                    WATCHDOG.arm(timeout)
                output = self._invoke(entry, call.arguments)
            finally:
                fired = WATCHDOG.disarm() if timeout is not None else False
        except CallTimeout:
            fired = True
        except ToolError as e:
            error = f"{call.name}: {e}"
        except Exception as e:  # noqa: BLE001 - a bug in a simulated API must not crash the episode
            error = self._error_text(call, e)
        if fired or (timeout is not None and time.perf_counter() - start > timeout):
            error = f"{call.name}: timed out after {timeout} s"
        if error is None:
            output, error = self._finish_output(call.name, output)
        if error is not None:
            self._restore(entry, snapshot)
        return output, error

    def _finish_output(self, name: str, output: Any) -> tuple[Any, str | None]:
        """Copies the output (so it never aliases state) and truncates it to `max_output_chars`.

        Encoding every output as JSON just to measure it would be the most expensive step of a call. JSON
        text has at most 7 characters per byte of marshal's version-2 encoding (the worst case is a null
        in a list: 1 byte against "null, "), so an output whose marshal form is short enough certainly
        fits, and the marshal bytes double as the copy. Only longer outputs are encoded to be measured.
        """
        try:
            packed = marshal.dumps(output, 2)
        except ValueError:
            packed = None  # not marshal-able (an object): let json decide below
        if packed is not None and len(packed) * _JSON_CHARS_PER_MARSHAL_BYTE <= self.max_output_chars:
            return (marshal.loads(packed) if isinstance(output, (dict, list)) else output), None
        try:
            text = _JSON.encode(output)
        except (TypeError, ValueError) as e:
            return None, f"{name} failed: returned a value that is not JSON ({e})"
        if len(text) > self.max_output_chars:
            cut = len(text) - self.max_output_chars
            return f"{text[: self.max_output_chars]}... [truncated {cut} characters]", None
        return (json.loads(text) if isinstance(output, (dict, list)) else output), None

    # -- hooks ----------------------------------------------------------------------------------
    def _lookup(self, name: Any) -> Any:
        """The entry for a tool name (with a `validate(arguments) -> error | None`), or None."""
        raise NotImplementedError

    def _invoke(self, entry: Any, arguments: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _error_text(self, call: ToolCall, exc: Exception) -> str:
        """The error a call gets when the API raised something other than a ToolError."""
        return f"{call.name} failed: {type(exc).__name__}: {exc}"

    def _snapshot(self, entry: Any) -> Any:
        return None

    def _restore(self, entry: Any, snapshot: Any) -> None:
        pass

    def __enter__(self) -> BaseEnv:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _as_call(raw: Any) -> ToolCall | None:
    if isinstance(raw, ToolCall):
        if isinstance(raw.name, str):
            return raw
        return None
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        return ToolCall(raw["name"], raw.get("arguments") if raw.get("arguments") is not None else {})
    return None


class _Bound:
    """A tool bound to the API instance that serves it in the current episode."""

    __slots__ = ("api", "spec", "validate")

    def __init__(self, api: SimulatedAPI, spec: ToolSpec) -> None:
        self.api, self.spec, self.validate = api, spec, spec.validate


class Env(BaseEnv):
    """Simulated APIs of one or more domains behind the call gate.

    Args:
        apis: The SimulatedAPI classes (one per domain); tool names must not collide.
        max_output_chars: See BaseEnv.
        call_timeout_s: See BaseEnv.
    """

    def __init__(self, apis: Sequence[type[SimulatedAPI]], **limits: Any) -> None:
        super().__init__(**limits)
        self.api_classes = list(apis)
        self.domains = [cls.domain for cls in self.api_classes]
        if len(set(self.domains)) != len(self.domains):
            raise ValueError(f"duplicate domains: {self.domains}")
        owners: dict[str, str] = {}
        for cls in self.api_classes:
            for name in cls.tool_specs():
                if name in owners:
                    raise ValueError(f"tool {name!r} is defined by both {owners[name]} and {cls.domain}")
                owners[name] = cls.domain
        self.all_tools = [t for cls in self.api_classes for t in cls.tools()]
        self.tools = self.all_tools  # narrowed to the task's tools by reset
        self._offered: dict[str, None] | None = None  # the task's tools, in order (a dict: fast lookups)
        self.apis: dict[str, SimulatedAPI] = {}
        self._bound: dict[str, _Bound] = {}
        self.rng = random.Random(0)
        self.reset()

    def _make_apis(self) -> None:
        # API instances live as long as the env; an episode only swaps their state dicts.
        self.apis = {cls.domain: cls({}) for cls in self.api_classes}
        self._bound = {
            name: _Bound(self.apis[cls.domain], spec) for cls in self.api_classes for name, spec in cls.tool_specs().items()
        }

    def reset(self, task: Task | None = None, seed: int | None = None) -> list[dict[str, Any]]:
        """Starts an episode.

        Args:
            task: Provides the initial state (`task.initial_state[domain]`; missing domains get a seeded
                default) and the offered tools (calls to a tool the task does not offer are refused).
            seed: Seeds the env's RNG; defaults to a stable hash of the task id (0 without a task).

        Returns:
            The first user turn's messages (empty without a task).
        """
        if seed is None:
            seed = stable_seed(task.id) if task is not None else 0
        self.rng = random.Random(seed)
        initial = task.initial_state if task is not None else {}
        if not self.apis:
            self._make_apis()
        for cls in self.api_classes:
            given = initial.get(cls.domain)
            self.apis[cls.domain].s = copy_state(given) if given is not None else cls.default_state(self.rng)
        offered = [tool_name(t) for t in task.tools] if task is not None and task.tools else None
        self._offered = {n: None for n in offered if n in self._bound} if offered is not None else None
        self.tools = self.all_tools if self._offered is None else [t for t in self.all_tools if tool_name(t) in self._offered]
        return super().reset(task, seed)

    def load_state(self, states: dict[str, dict[str, Any]]) -> None:
        """Replaces the state of the named domains with copies of `states[domain]` (others keep theirs)."""
        if not self.apis:
            self._make_apis()
        for domain, st in states.items():
            if domain not in self.apis:
                raise KeyError(f"this env has no domain {domain!r} (it has {self.domains})")
            self.apis[domain].s = copy_state(st)

    def state(self) -> dict[str, Any]:
        """A deep copy of every domain's state: `{domain: state}`."""
        return {domain: copy_state(api.s) for domain, api in self.apis.items()}

    def close(self) -> None:
        self.apis = {}
        self._bound = {}
        super().close()

    @property
    def available_tools(self) -> list[str]:
        return list(self._offered) if self._offered is not None else list(self._bound)

    def _lookup(self, name: Any) -> _Bound | None:
        if self._offered is not None and name not in self._offered:
            return None
        return self._bound.get(name)

    def _invoke(self, entry: _Bound, arguments: dict[str, Any]) -> Any:
        kwargs = {}
        convs = entry.spec.converters
        for k, v in arguments.items():
            if type(v) in (list, dict):  # the method may store it: never alias the caller's objects
                v = copy_state(v)
            kwargs[k] = convs[k](v) if k in convs else v
        return entry.spec.fn(entry.api, **kwargs)

    def _snapshot(self, entry: _Bound) -> bytes | None:
        return None if entry.spec.readonly else marshal.dumps(entry.api.s)

    def _restore(self, entry: _Bound, snapshot: bytes | None) -> None:
        if snapshot is not None:
            entry.api.s = marshal.loads(snapshot)


class _SchemaTool:
    __slots__ = ("name", "validate")

    def __init__(self, tool: dict[str, Any]) -> None:
        norm = normalize_tool(tool)["function"]
        self.name = norm["name"]
        self.validate = compile_parameters(norm["parameters"])


class SchemaOnlyEnv(BaseEnv):
    """An env for tasks without simulated domains (e.g. BFCL's AST-only categories).

    It checks each call against the task's tool schemas and acknowledges valid ones with
    `{"status": "ok"}`; it has no state.
    """

    def __init__(self, tools: Sequence[dict[str, Any]] = (), **limits: Any) -> None:
        super().__init__(**limits)
        self._set_tools(tools)

    def _set_tools(self, tools: Sequence[dict[str, Any]]) -> None:
        self.tools = [normalize_tool(t) for t in tools]
        self._schema_tools = {}
        for t in tools:
            st = _SchemaTool(t)
            self._schema_tools.setdefault(st.name, st)

    def reset(self, task: Task | None = None, seed: int | None = None) -> list[dict[str, Any]]:
        if task is not None:
            self._set_tools(task.tools)
        return super().reset(task, seed)

    def _lookup(self, name: Any) -> _SchemaTool | None:
        return self._schema_tools.get(name) if isinstance(name, str) else None

    def _invoke(self, entry: _SchemaTool, arguments: dict[str, Any]) -> Any:
        return {"status": "ok", "function": entry.name}
