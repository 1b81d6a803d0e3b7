"""BFCL multi-turn execution: the benchmark's own API classes as a toolgym env.

BFCL scores multi-turn tasks by execution. After each user turn it runs the model's calls and the
ground-truth calls on two separate sets of instances of its API classes (`GorillaFileSystem`,
`TwitterAPI`, ...). It then checks two things:

- state: each ground-truth instance's public attributes equal the model's (`state_checker`);
- response: every ground-truth execution result of the turn appears among the model's results of all
  turns so far, as strings, order ignored (`response_checker`).

This module runs those same classes (imported lazily from `bfcl_eval`, never its model handlers). It
rebuilds the two checks on JSON states and result strings (`compare_state`, `missing_responses`), and
BFCL's whole verdict on top of them (`check_multi_turn`).
Calls are dispatched by name to bound methods with keyword arguments. Nothing is ever `eval`ed: the
ground-truth call strings are parsed with `ast`.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envs.env import BaseEnv
from envs.schema import normalize_tool, tool_name
from envs.types import Task, ToolCall, ToolResult

# Mirrors bfcl_eval/constants/executable_backend_config.py. That module imports nothing, but a local
# copy keeps `import envs.bfcl` free of bfcl_eval. A test checks that the two agree.
_BACKEND = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
CLASS_MODULES: dict[str, str] = {
    "GorillaFileSystem": f"{_BACKEND}.gorilla_file_system",
    "MathAPI": f"{_BACKEND}.math_api",
    "MessageAPI": f"{_BACKEND}.message_api",
    "TwitterAPI": f"{_BACKEND}.posting_api",
    "TicketAPI": f"{_BACKEND}.ticket_api",
    "TradingBot": f"{_BACKEND}.trading_bot",
    "TravelAPI": f"{_BACKEND}.travel_booking",
    "VehicleControlAPI": f"{_BACKEND}.vehicle_control",
    "MemoryAPI_kv": f"{_BACKEND}.memory_kv",
    "MemoryAPI_rec_sum": f"{_BACKEND}.memory_rec_sum",
}
FUNC_DOC_FILES: dict[str, str] = {
    "GorillaFileSystem": "gorilla_file_system.json",
    "MathAPI": "math_api.json",
    "MessageAPI": "message_api.json",
    "TwitterAPI": "posting_api.json",
    "TicketAPI": "ticket_api.json",
    "TradingBot": "trading_bot.json",
    "TravelAPI": "travel_booking.json",
    "VehicleControlAPI": "vehicle_control.json",
    "MemoryAPI_kv": "memory_kv.json",
    "MemoryAPI_rec_sum": "memory_rec_sum.json",
}
# BFCL never calls `_load_scenario` on these (executable_backend_config.STATELESS_CLASSES).
STATELESS_CLASSES = frozenset({"MathAPI"})
# BFCL's memory backends (envs/bfcl_memory.py) and the attributes that their `_flush_memory_to_local_file` writes
# to a snapshot and their `_load_scenario` reads back. The vector backend is absent: it downloads an embedding model.
MEMORY_SNAPSHOT_KEYS: dict[str, tuple[str, ...]] = {
    "MemoryAPI_kv": ("core_memory", "archival_memory"),
    "MemoryAPI_rec_sum": ("memory",),
}

# BFCL's prefix for a call that raised; kept so our result strings equal its strings.
ERROR_PREFIX = "Error during execution: "


# ---------------------------------------------------------------------------------------------------
# Ground-truth call strings
# ---------------------------------------------------------------------------------------------------


def parse_call(source: str, param_names: Callable[[str], list[str]] | None = None) -> ToolCall:
    """Parses one BFCL call string such as `"cd(folder='document')"` with `ast`, never `eval`.

    Args:
        source: The call string.
        param_names: Gives a function's parameter names in signature order. A few ground-truth
            calls are positional (`"sort('final_report.pdf')"`), and this maps them to names.

    Returns:
        The call, with tuples turned into lists (JSON has no tuples).

    Raises:
        ValueError: The string is not a single call with literal arguments.
    """
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"not a call: {source!r} ({e.msg})") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"not a plain function call: {source!r}")
    name = node.func.id
    args: dict[str, Any] = {}
    if node.args:
        names = param_names(name) if param_names else []
        if len(node.args) > len(names):
            raise ValueError(f"{source!r}: cannot name {len(node.args)} positional argument(s) of {name}")
        for pname, value in zip(names, node.args, strict=False):
            args[pname] = _literal(value, source)
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"{source!r}: **kwargs is not supported")
        args[kw.arg] = _literal(kw.value, source)
    return ToolCall(name, args)


def _literal(node: ast.AST, source: str) -> Any:
    try:
        return _jsonable(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError) as e:
        raise ValueError(f"{source!r}: argument is not a literal ({e})") from None


def method_params(class_names: list[str], function: str) -> list[str]:
    """Parameter names, in order, of `function` on the first of `class_names` that defines it."""
    for cls in class_names:
        method = getattr(_api_class(cls), function, None)
        if callable(method):
            return [p for p in inspect.signature(method).parameters if p != "self"]
    return []



def read_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The first `limit` (all if None) JSON objects of a BFCL data file, one per non-empty line."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if limit is not None and len(rows) >= limit:
                break
            if line.strip():
                rows.append(json.loads(line))
    return rows

def memory_snapshot(class_name: str, instance: Any) -> dict[str, Any]:
    """A memory backend's snapshot: what BFCL's `_flush_memory_to_local_file` writes, keys in insertion order
    (the model sees that order in the memory dump and in key listings)."""
    return {key: copy.deepcopy(getattr(instance, key)) for key in MEMORY_SNAPSHOT_KEYS[class_name]}


def restore_memory(class_name: str, instance: Any, snapshot: dict[str, Any]) -> None:
    """Loads a snapshot into a fresh memory backend, as BFCL's `_load_scenario` does from the snapshot file.
    An empty snapshot leaves the memory empty (BFCL: the first prerequisite conversation of a scenario).

    Raises:
        ValueError: The snapshot lacks one of the backend's keys.
    """
    if not snapshot:
        return
    for key in MEMORY_SNAPSHOT_KEYS[class_name]:
        if key not in snapshot:
            raise ValueError(f"{class_name} snapshot has no {key!r} (keys: {sorted(snapshot)})")
        setattr(instance, key, copy.deepcopy(snapshot[key]))


def _api_class(class_name: str) -> type:
    if class_name not in CLASS_MODULES:
        raise ValueError(f"unknown BFCL API class {class_name!r}; known: {sorted(CLASS_MODULES)}")
    try:
        module = importlib.import_module(CLASS_MODULES[class_name])
    except ImportError as e:
        raise ImportError(
            f"cannot import BFCL's {class_name} ({e}). Run `make setup` (installs bfcl-eval with --no-deps, and the "
            "packages its API classes import)."
        ) from e
    return getattr(module, class_name)


# ---------------------------------------------------------------------------------------------------
# State: public attributes as canonical JSON
# ---------------------------------------------------------------------------------------------------


def _jsonable(value: Any, _ancestors: tuple[int, ...] = ()) -> Any:
    """Converts API state to canonical JSON values.

    Objects become dicts of their public attributes, which is what BFCL's `_compare_instances`
    looks at. Dict keys become strings and are sorted. Sets become sorted lists, and tuples become
    lists. An attribute that points back to an object being converted is dropped, so the cycle
    `Directory.parent` disappears, just as `Directory.__eq__` ignores it.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if id(value) in _ancestors:
        return None  # unreachable for attributes (filtered below); guards odd containers
    inner = (*_ancestors, id(value))
    if isinstance(value, dict):
        items = {str(k): _jsonable(v, inner) for k, v in value.items()}
        return {k: items[k] for k in sorted(items)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, inner) for v in value]
    if isinstance(value, (set, frozenset)):
        converted = [_jsonable(v, inner) for v in value]
        return sorted(converted, key=lambda v: json.dumps(v, sort_keys=True))
    if hasattr(value, "__dict__"):
        attrs = {
            k: _jsonable(v, inner)
            for k, v in vars(value).items()
            if not k.startswith("_") and id(v) not in inner
        }
        return {k: attrs[k] for k in sorted(attrs)}
    return str(value)  # datetime, Decimal, ...: compared by their text


def compare_state(model_state: dict[str, Any], gt_state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """BFCL's state check on `state()` dicts. An empty result means the states match.

    As in `multi_turn_checker.state_checker`, every public attribute of every ground-truth instance
    must equal the model's. Attributes that only the model has are ignored.

    Returns:
        `{"Class.attr": {"model": ..., "ground_truth": ...}}` for each attribute that differs.
    """
    missing = object()
    diffs: dict[str, dict[str, Any]] = {}
    for cls, gt_attrs in gt_state.items():
        model_attrs = model_state.get(cls) or {}
        for attr, gt_value in gt_attrs.items():
            value = model_attrs.get(attr, missing)
            if value is missing or value != gt_value:
                diffs[f"{cls}.{attr}"] = {
                    "model": None if value is missing else value,
                    "ground_truth": gt_value,
                }
    return diffs


def missing_responses(model_results: list[str], gt_results: list[str]) -> list[str]:
    """BFCL's response check. Returns the ground-truth results that the model's results lack.

    As in `multi_turn_checker.response_checker`, order is ignored. Each model result can match only
    one ground-truth result. Pass the model's results of all turns so far, and the ground-truth
    results of the current turn only (this is what BFCL does).
    """
    pool = list(model_results)
    missing = []
    for item in gt_results:
        try:
            pool.remove(item)
        except ValueError:
            missing.append(item)
    return missing


def result_text(result: ToolResult) -> str:
    """The string BFCL records for a call: the output, or `"Error during execution: ..."`."""
    if result.error is not None:
        return ERROR_PREFIX + result.error
    return result.output if isinstance(result.output, str) else json.dumps(result.output)


def _bfcl_output(value: Any) -> str:
    # Same conversion as multi_turn_utils.execute_multi_turn_func_call: the response check compares
    # these strings, so they must be identical to BFCL's.
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except Exception:  # BFCL's own fallback for values json cannot encode
            return str(value)
    return str(value)


# ---------------------------------------------------------------------------------------------------
# The env
# ---------------------------------------------------------------------------------------------------


class _Method:
    """One of the task's API methods behind the env's call gate: arguments must bind to its signature."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def validate(self, arguments: Any) -> str | None:
        if not isinstance(arguments, dict):
            return "arguments must be an object"
        try:
            inspect.signature(self.fn).bind(**arguments)
        except TypeError as e:
            return f"invalid arguments: {e}"
        return None


class BFCLEnv(BaseEnv):
    """Runs one BFCL multi-turn task on BFCL's API classes, behind the same call gate as every toolgym env
    (envs/env.py: validation, the per-call time limit of envs/timeout.py, output truncation).

    Each `reset` builds fresh instances of the task's involved classes. It loads them with
    `_load_scenario(initial_config[class], long_context=...)`, True for multi_turn_long_context, as BFCL does. Calls are dispatched
    to the public methods that the task's tools name. BFCL's classes seed their own RNGs from the
    scenario, so `seed` changes nothing: episodes are deterministic.

    A call that is refused before it runs (unknown function, bad arguments) leaves the state
    unchanged. A call that raises inside an API method keeps whatever it had already changed, as it
    does in BFCL, and its error text is the exception's text, as BFCL records it.
    """

    def __init__(self, task: Task, *, max_output_chars: int = 1000, call_timeout_s: float | None = 1.0) -> None:
        super().__init__(max_output_chars=max_output_chars, call_timeout_s=call_timeout_s)
        self._task = task
        self._instances: dict[str, Any] = {}
        self._methods: dict[str, Callable[..., Any]] = {}
        self.reset(task)

    def reset(self, task: Task | None = None, seed: int | None = None) -> list[dict[str, Any]]:
        """Starts an episode with fresh API instances.

        Args:
            task: A BFCL multi-turn task (from `envs.bfcl.load`); None reuses the current one.
            seed: Ignored. BFCL's classes seed themselves from the scenario.

        Returns:
            The first user turn's messages.

        Raises:
            ValueError: The task is not a BFCL multi-turn task.
        """
        task = task or self._task
        classes = task.metadata.get("bfcl_involved_classes")
        if not classes:
            raise ValueError(
                f"task {task.id!r} has no metadata['bfcl_involved_classes']; not a BFCL multi-turn task"
            )
        # Functions held out until a later turn (miss_func) are callable from the start: BFCL executes any
        # method of the classes, offered or not.
        held_out = [doc for docs in task.metadata.get("bfcl_held_out_tools", {}).values() for doc in docs]
        allowed = {tool_name(t) for t in [*task.tools, *held_out]}
        long_context = bool(task.metadata.get("bfcl_long_context", False))
        instances: dict[str, Any] = {}
        methods: dict[str, Callable[..., Any]] = {}
        for cls in classes:
            instance = _api_class(cls)()
            if cls in MEMORY_SNAPSHOT_KEYS:
                # BFCL loads a memory backend from a snapshot file; here the snapshot is the task's initial state.
                restore_memory(cls, instance, task.initial_state.get(cls, {}))
            elif cls not in STATELESS_CLASSES:
                # Deep copy: `_load_scenario` keeps references into the config it is given.
                instance._load_scenario(copy.deepcopy(task.initial_state.get(cls, {})), long_context=long_context)
            instances[cls] = instance
            for name, method in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not name.startswith("_") and name in allowed:
                    methods[name] = method
        self._task, self._instances, self._methods = task, instances, methods
        self.tools = [normalize_tool(t) for t in task.tools]  # OpenAI form; BFCL types kept under `x-bfcl-type`
        return super().reset(task, seed)

    def state(self) -> dict[str, Any]:
        """`{class_name: public attributes}` as canonical JSON, the part of an instance BFCL compares; for a memory
        backend, its snapshot (`memory_snapshot`), which the next conversation of its scenario starts from."""
        return {cls: memory_snapshot(cls, inst) if cls in MEMORY_SNAPSHOT_KEYS else _jsonable(inst)
                for cls, inst in sorted(self._instances.items())}

    def close(self) -> None:
        """Drops the instances. Safe to call twice."""
        self._instances, self._methods = {}, {}
        super().close()

    @property
    def available_tools(self) -> list[str]:
        return sorted(self._methods)

    # -- the call gate's hooks ------------------------------------------------------------------------
    def _lookup(self, name: Any) -> _Method | None:
        fn = self._methods.get(name) if isinstance(name, str) else None
        return _Method(fn) if fn is not None else None

    def _invoke(self, entry: _Method, arguments: dict[str, Any]) -> Any:
        # A deep copy, so that the API cannot keep aliases into the caller's dict (or the reverse).
        return entry.fn(**copy.deepcopy(arguments))

    def _error_text(self, call: ToolCall, exc: Exception) -> str:
        return str(exc) or type(exc).__name__  # what BFCL records after its "Error during execution: "

    def _finish_output(self, name: str, output: Any) -> tuple[Any, str | None]:
        text = _bfcl_output(output)
        if len(text) > self.max_output_chars:
            text = text[: self.max_output_chars] + f"... [truncated {len(text) - self.max_output_chars} chars]"
        return text, None


def make_bfcl_env(task: Task, *, max_output_chars: int = 1000, call_timeout_s: float = 1.0) -> BFCLEnv:
    """Builds the execution env of a BFCL multi-turn task, already reset to its initial state.

    Args:
        task: A task from `envs.bfcl.load("multi_turn_base")`.
        max_output_chars: Longer outputs are cut, with a note of how much was cut.
        call_timeout_s: Time limit per call; 0 or None disables it.
    """
    return BFCLEnv(task, max_output_chars=max_output_chars, call_timeout_s=call_timeout_s)


def ground_truth_calls(task: Task) -> list[list[ToolCall]]:
    """The task's ground-truth calls per turn, parsed from the raw BFCL strings in its metadata."""
    classes = task.metadata.get("bfcl_involved_classes", [])
    raw = task.metadata.get("bfcl_ground_truth_calls")
    if raw is None:
        raise ValueError(
            f"task {task.id!r} has no metadata['bfcl_ground_truth_calls']; not a BFCL multi-turn task"
        )
    return [[parse_call(s, lambda fn: method_params(classes, fn)) for s in turn] for turn in raw]


def replay(task: Task, *, max_output_chars: int = 1000, call_timeout_s: float = 1.0) -> list[dict[str, Any]]:
    """Runs the ground truth turn by turn on a fresh env, as BFCL's checker does.

    Use the same limits as the env that the policy played in. Otherwise truncated outputs
    differ, and the response check fails for no reason.

    Returns:
        One dict per user turn:
        `{"calls": [ToolCall dicts], "results": [BFCL result strings], "errors": [str | None],
        "state": state() after the turn}`.
        Pass `results` to `missing_responses` and `state` to `compare_state`.
    """
    env = make_bfcl_env(task, max_output_chars=max_output_chars, call_timeout_s=call_timeout_s)
    try:
        turns = []
        for calls in ground_truth_calls(task):
            results = env.step(calls)
            turns.append(
                {
                    "calls": [c.to_dict() for c in calls],
                    "results": [result_text(r) for r in results],
                    "errors": [r.error for r in results],
                    "state": env.state(),
                }
            )
        return turns
    finally:
        env.close()


def check_multi_turn(
    task: Task,
    model_results: list[list[str]],
    model_states: list[dict[str, Any]],
    gt: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """BFCL's multi-turn verdict (`multi_turn_checker`), rebuilt on our result strings and states.

    Turns whose ground truth is empty are not checked, as in BFCL (it still runs the model's calls,
    and so do we). On every other turn the model must have made at least one call. The state must
    match (`compare_state`). The turn's ground-truth results must all appear among the model's
    results of all turns so far (`missing_responses`).

    Args:
        task: A BFCL multi-turn task.
        model_results: For each user turn, `result_text` of every call the model made in it.
        model_states: For each user turn, the env's `state()` at the end of the turn.
        gt: `replay(task)` with the episode's limits; computed with the defaults when None.

    Returns:
        `{"valid": bool, "error_type": str | None, "turn": int | None, "details": dict}`, where
        `error_type` uses BFCL's names (e.g. "multi_turn:instance_state_mismatch").
    """
    gt = replay(task) if gt is None else gt
    if len(model_results) != len(gt) or len(model_states) != len(gt):
        return _verdict(
            "multi_turn:force_terminated", None, {"turns": len(gt), "model_turns": len(model_results)}
        )
    seen: list[str] = []
    for k, turn in enumerate(gt):
        seen.extend(model_results[k])
        if not turn["calls"]:
            continue
        if not model_results[k]:
            return _verdict("multi_turn:empty_turn_model_response", k, {})
        diffs = compare_state(model_states[k], turn["state"])
        if diffs:
            return _verdict("multi_turn:instance_state_mismatch", k, {"differences": diffs})
        missing = missing_responses(seen, turn["results"])
        if missing:
            return _verdict("multi_turn:execution_response_mismatch", k, {"missing_items": missing})
    return {"valid": True, "error_type": None, "turn": None, "details": {}}


def _verdict(error_type: str, turn: int | None, details: dict[str, Any]) -> dict[str, Any]:
    return {"valid": False, "error_type": error_type, "turn": turn, "details": details}
