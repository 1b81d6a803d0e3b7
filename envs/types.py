"""Core value types shared by envs, rewards and rl.

Everything here is plain data: dataclasses that serialise to JSON, so a `Task` is one JSONL line that
`datasets` can load and an `Episode` can be logged or replayed. No torch, no ray.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

Category = Literal[
    "simple",
    "multiple",
    "parallel",
    "parallel_multiple",
    "multi_step",
    "multi_turn",
    "irrelevance",
    "missing_param",
]
CATEGORIES: tuple[str, ...] = get_args(Category)

# Ground truth in BFCL's possible-answer style: for one user turn, a list of expected calls, each
# `{function_name: {arg: [acceptable values]}}`. `""` among the acceptable values means "may be omitted".
TurnGroundTruth = list[dict[str, dict[str, list[Any]]]]


@dataclass
class ToolCall:
    """One function call emitted by the policy (or expected by the ground truth)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolCall:
        return cls(name=d["name"], arguments=dict(d.get("arguments") or {}))


@dataclass
class ToolResult:
    """The environment's answer to one call: an output value or an error message, never both."""

    call: ToolCall
    output: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.call.to_dict(), "output": self.output, "error": self.error}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolResult:
        return cls(call=ToolCall.from_dict(d["call"]), output=d.get("output"), error=d.get("error"))

    def observation(self) -> Any:
        """What the policy sees: the output, or `{"error": ...}` (errors are values, never raised)."""
        return {"error": self.error} if self.error is not None else self.output


class TaskFormatError(ValueError):
    """A task row is malformed. The message names the source, the line and the field."""


@dataclass
class Task:
    """One training or evaluation problem.

    Attributes:
        id: Unique id, stable across runs (used to seed episodes).
        domains: Simulated API domains whose tools appear in `tools` (empty for foreign data like BFCL).
        category: One of `CATEGORIES`.
        turns: Messages the user side adds before each assistant turn: `turns[k]` is a list of chat
            messages (usually one user message). `len(turns)` is the number of user turns.
        tools: Tool schemas offered to the policy (OpenAI JSON-schema form or BFCL function-doc form).
        ground_truth: One `TurnGroundTruth` per user turn. An empty list means "no call is right".
        initial_state: Env state to start from (domain -> state); `{}` means the domain's default.
        expected_state: Env state after replaying the ground truth, or None when not recorded.
        metadata: Free-form extras (phrasing template id, source, BFCL ids, ...).
    """

    id: str
    category: str
    turns: list[list[dict[str, Any]]]
    tools: list[dict[str, Any]]
    ground_truth: list[TurnGroundTruth]
    domains: list[str] = field(default_factory=list)
    initial_state: dict[str, Any] = field(default_factory=dict)
    expected_state: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise TaskFormatError(f"category: {self.category!r} is not one of {list(CATEGORIES)}")
        if not self.turns:
            raise TaskFormatError("turns: a task needs at least one user turn")
        if len(self.ground_truth) != len(self.turns):
            raise TaskFormatError(
                f"ground_truth: has {len(self.ground_truth)} entries but there are {len(self.turns)} turns"
            )

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The first user turn's messages (the whole prompt of a single-turn task)."""
        return self.turns[0]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Task:
        """Builds a Task from a decoded JSON row, checking each field's shape.

        Raises:
            TaskFormatError: naming the offending field.
        """
        if not isinstance(row, dict):
            raise TaskFormatError(f"expected a JSON object, got {type(row).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(row) - names)
        if unknown:
            raise TaskFormatError(f"{unknown[0]}: unknown field (known: {sorted(names)})")
        for required in ("id", "category", "turns", "tools", "ground_truth"):
            if required not in row:
                raise TaskFormatError(f"{required}: missing required field")
        _expect(row, "id", str)
        _expect(row, "category", str)
        _expect(row, "turns", list)
        _expect(row, "tools", list)
        _expect(row, "ground_truth", list)
        for k, turn in enumerate(row["turns"]):
            if not isinstance(turn, list) or not all(isinstance(m, dict) and "role" in m for m in turn):
                raise TaskFormatError(f"turns[{k}]: expected a list of chat messages with a 'role'")
        for k, tool in enumerate(row["tools"]):
            if not isinstance(tool, dict):
                raise TaskFormatError(f"tools[{k}]: expected an object")
        for k, gt in enumerate(row["ground_truth"]):
            if not isinstance(gt, list) or not all(isinstance(c, dict) and len(c) == 1 for c in gt):
                raise TaskFormatError(
                    f"ground_truth[{k}]: expected a list of {{function_name: {{arg: [values]}}}} objects"
                )
            for call in gt:
                (fn, args), = call.items()
                if not isinstance(args, dict) or not all(isinstance(v, list) for v in args.values()):
                    raise TaskFormatError(
                        f"ground_truth[{k}].{fn}: each argument must map to a list of acceptable values"
                    )
        for opt, typ in (("domains", list), ("initial_state", dict), ("metadata", dict)):
            if opt in row:
                _expect(row, opt, typ)
        if row.get("expected_state") is not None:
            _expect(row, "expected_state", dict)
        return cls(**row)

    @classmethod
    def from_json(cls, line: str) -> Task:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskFormatError(f"invalid JSON at column {e.colno}: {e.msg}") from None
        return cls.from_dict(row)


def _expect(row: dict[str, Any], key: str, typ: type) -> None:
    if not isinstance(row[key], typ):
        raise TaskFormatError(f"{key}: expected {typ.__name__}, got {type(row[key]).__name__}")


def read_tasks(path: str | Path) -> list[Task]:
    """Reads a JSONL file of tasks.

    Raises:
        TaskFormatError: with `path:line: field: reason` for the first bad line.
    """
    return list(iter_tasks(path))


def iter_tasks(path: str | Path) -> Iterator[Task]:
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield Task.from_json(line)
            except TaskFormatError as e:
                raise TaskFormatError(f"{path}:{lineno}: {e}") from None


def write_tasks(tasks: Iterable[Task], path: str | Path) -> int:
    """Writes tasks as JSONL (one task per line); returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for t in tasks:
            f.write(t.to_json() + "\n")
            n += 1
    return n


@dataclass
class Step:
    """One assistant message inside an episode and what the environment answered.

    Attributes:
        turn: Index of the user turn this step belongs to.
        text: The raw assistant text (what was generated, decoded).
        calls: Calls parsed from `text` (empty when the assistant answered in prose).
        results: One result per call, in order.
        parse_error: The format's parse error, if the text was malformed.
        decision: The decision token's choice ("use_tool" / "answer") for the decision format.
        num_tokens: Number of generated tokens in this step.
    """

    turn: int
    text: str
    calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    parse_error: str | None = None
    decision: str | None = None
    num_tokens: int = 0


@dataclass
class Episode:
    """The transcript of one policy run on one task.

    Attributes:
        task_id: The task's id.
        steps: Every assistant message in order.
        messages: The readable chat transcript (system/user/assistant/tool messages).
        turn_states: Env state at the end of each user turn (for per-turn execution checks).
        final_state: Env state at the end of the episode.
        truncated: True when a limit (turns, tokens) cut the episode short.
        metadata: Free-form extras (weight version, timing, seed, ...).
    """

    task_id: str
    steps: list[Step] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    turn_states: list[dict[str, Any]] = field(default_factory=list)
    final_state: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    def calls(self, turn: int | None = None) -> list[ToolCall]:
        """All calls made, optionally only those of one user turn."""
        return [c for s in self.steps if turn is None or s.turn == turn for c in s.calls]

    def results(self, turn: int | None = None) -> list[ToolResult]:
        return [r for s in self.steps if turn is None or s.turn == turn for r in s.results]

    def final_answer(self, turn: int | None = None) -> str:
        """Text of the last call-free assistant step (of one turn, or of the episode)."""
        for s in reversed(self.steps):
            if (turn is None or s.turn == turn) and not s.calls:
                return s.text
        return ""

    @property
    def num_tokens(self) -> int:
        return sum(s.num_tokens for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Episode:
        steps = [
            Step(
                turn=s["turn"],
                text=s["text"],
                calls=[ToolCall.from_dict(c) for c in s.get("calls", [])],
                results=[ToolResult.from_dict(r) for r in s.get("results", [])],
                parse_error=s.get("parse_error"),
                decision=s.get("decision"),
                num_tokens=s.get("num_tokens", 0),
            )
            for s in d.get("steps", [])
        ]
        return cls(**{**d, "steps": steps})
