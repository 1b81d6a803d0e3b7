"""Small builders for tasks and episodes in the rewards tests."""

from __future__ import annotations

from typing import Any

from envs.formats import get_format
from envs.types import Episode, Step, Task, ToolCall, ToolResult

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
BOOK = {
    "type": "function",
    "function": {
        "name": "book_flight",
        "description": "Books a flight.",
        "parameters": {
            "type": "object",
            "properties": {
                "origin": {"type": "string"},
                "destination": {"type": "string"},
                "date": {"type": "string"},
            },
            "required": ["origin", "destination", "date"],
        },
    },
}
TOOLS = [WEATHER, TIME, BOOK]


def task(ground_truth: list[list[dict[str, Any]]], category: str = "simple", **kw: Any) -> Task:
    turns = [[{"role": "user", "content": f"request {k}"}] for k in range(len(ground_truth))]
    return Task(
        id=kw.pop("id", "t"),
        category=category,
        turns=turns,
        tools=kw.pop("tools", TOOLS),
        ground_truth=ground_truth,
        **kw,
    )


def step(
    text: str = "", calls: list[ToolCall] | None = None, turn: int = 0, fmt: str = "pythonic", **kw: Any
) -> Step:
    """A step whose calls and parse error come from parsing `text` (as the rollout does)."""
    parsed = get_format(fmt).parse(text)
    calls = parsed.calls if calls is None else calls
    results = [ToolResult(c, output={"ok": True}) for c in calls]
    return Step(
        turn=turn,
        text=text,
        calls=calls,
        results=results,
        parse_error=parsed.error,
        decision=parsed.decision,
        **kw,
    )


def episode(*steps: Step, **kw: Any) -> Episode:
    return Episode(task_id="t", steps=list(steps), **kw)


def render(calls: list[ToolCall], fmt: str = "pythonic") -> str:
    return get_format(fmt).render_calls(calls)


def play(
    task: Task,
    calls_per_turn: list[list[ToolCall]],
    answers: list[str] | None = None,
    seed: int | None = None,
) -> Episode:
    """Plays given calls on the task's real env, turn by turn, as a rollout would record them.

    Each turn is one step with the calls (if any) and then one call-free answer step; the answer
    defaults to the JSON of every result, so that all outputs reach it.
    """
    import json

    import envs

    env = envs.env_for_task(task)
    try:
        env.reset(task, seed=seed)
        steps, states = [], []
        for turn, calls in enumerate(calls_per_turn):
            results = env.step(calls) if calls else []
            if calls:
                steps.append(Step(turn=turn, text="", calls=list(calls), results=results))
            told = [
                r.output if isinstance(r.output, str) else json.dumps(r.observation(), default=str)
                for r in results
            ]
            answer = answers[turn] if answers else " ".join(told)
            steps.append(Step(turn=turn, text=answer or "OK."))
            states.append(env.state())
        for _ in range(len(calls_per_turn), len(task.turns)):  # turns never reached keep the last state
            states.append(env.state())
        return Episode(
            task_id=task.id, steps=steps, turn_states=states, final_state=env.state(), metadata={"seed": seed}
        )
    finally:
        env.close()
