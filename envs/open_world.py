"""Open mode: the prompt offers one tool, `search_tools`, and the tools it returns become callable.

    task = open_task(task)                  # metadata["tool_mode"] = "open"; ground truth and tools unchanged
    offered_tools(task)                     # [SEARCH_TOOL]: what the prompt lists
    env = envs.env_for_task(task)           # an OpenToolEnv around the task's own env

A task keeps its golden tools in `task.tools` in either mode: rewards check calls against them. Only what the
policy is offered changes. In open mode:
- `search_tools(query, k)` runs BM25 over the tool pool (envs/tool_pool.py, envs/retrieval.py) and returns the
  k best tools' compact schemas (k from 1 to MAX_K; at most `max_searches` searches per episode). Its result is a
  tool message like any other, so it counts against the episode's token budget.
- A tool becomes callable once a search returned it; the call then goes to the task's own env, which serves
  the tools of its world (a simulated task: every tool of its domains; a BFCL task: its own functions). A
  retrieved tool from elsewhere gets that env's "unknown tool" error.
- Calling a tool no search returned is an error observation, never a crash.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

from envs.env import ToolEnv
from envs.tool_pool import PoolTool
from envs.types import Task, ToolCall, ToolResult

SEARCH_TOOL_NAME = "search_tools"
MAX_K = 10
DEFAULT_K = 5
DEFAULT_MAX_SEARCHES = 3
SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": SEARCH_TOOL_NAME,
        "description": "Searches the tool catalogue. Returns the best matching tools, which you can then call.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What the tool should do, in a few words."},
                "k": {"type": "integer", "description": f"How many tools to return (1 to {MAX_K}).",
                      "default": DEFAULT_K},
            },
            "required": ["query"],
        },
    },
}


def is_open(task: Task) -> bool:
    return task.metadata.get("tool_mode") == "open"


def open_task(task: Task) -> Task:
    """The same task in open mode (a copy; the original is unchanged)."""
    return dataclasses.replace(task, metadata={**task.metadata, "tool_mode": "open"})


def golden_task(task: Task) -> Task:
    """The task with its tools in the prompt (itself when it is not in open mode): where its ground truth is
    replayed, since a replay has nothing to search for."""
    if not is_open(task):
        return task
    return dataclasses.replace(task, metadata={k: v for k, v in task.metadata.items() if k != "tool_mode"})


def offered_tools(task: Task) -> list[dict[str, Any]]:
    """The tools the prompt lists: `search_tools` alone in open mode, else the task's tools."""
    return [SEARCH_TOOL] if is_open(task) else task.tools


def compact_schema(tool: PoolTool) -> dict[str, Any]:
    """What a search returns per tool: its name, description, and each parameter's type (required marked)."""
    fn = tool.tool["function"]
    params = fn.get("parameters", {})
    required = set(params.get("required") or [])
    return {
        "name": fn["name"],
        "description": fn.get("description", ""),
        "parameters": {p: f"{spec.get('type', 'any')}{' (required)' if p in required else ''}"
                       for p, spec in params.get("properties", {}).items()},
    }


@functools.lru_cache(maxsize=1)
def default_retriever() -> Any:
    """BM25 over the whole pool, built once per process (about half a second)."""
    from envs import tool_pool
    from envs.retrieval import BM25Retriever

    return BM25Retriever(tool_pool.load())


class OpenToolEnv:
    """A task's env behind `search_tools`: only retrieved tools reach it.

    Args:
        inner: The task's own env (simulated, schema-only or BFCL multi-turn); it serves every tool of its world.
        retriever: Has `search(query, k) -> [(PoolTool, score)]`.
        max_searches: Searches allowed per episode; more get an error observation.
    """

    def __init__(self, inner: ToolEnv, retriever: Any, max_searches: int = DEFAULT_MAX_SEARCHES) -> None:
        self.inner = inner
        self.retriever = retriever
        self.max_searches = max_searches
        self.tools: list[dict[str, Any]] = [SEARCH_TOOL]
        self.retrieved: dict[str, PoolTool] = {}
        self.searches = 0

    def reset(self, task: Task | None = None, seed: int | None = None) -> list[dict[str, Any]]:
        # The inner env serves its whole world: which tools exist is the search's business, not the task's list.
        world = dataclasses.replace(task, tools=[]) if task is not None and task.domains else task
        messages = self.inner.reset(world, seed)
        self.tools, self.retrieved, self.searches = [SEARCH_TOOL], {}, 0
        return messages

    def step(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Searches here; calls to retrieved tools go to the inner env; anything else is an error value."""
        if isinstance(calls, (ToolCall, dict)):
            calls = [calls]
        results = []
        for call in calls:
            if not isinstance(call, ToolCall):
                results.extend(self.inner.step([call]))  # the inner gate turns garbage into an error value
            elif call.name == SEARCH_TOOL_NAME:
                results.append(self._search(call))
            elif call.name in self.retrieved:
                results.extend(self.inner.step([call]))
            else:
                results.append(ToolResult(call, error=f"{call.name!r} was never returned by {SEARCH_TOOL_NAME}; "
                                                      f"search for a tool before calling it"))
        return results

    def _search(self, call: ToolCall) -> ToolResult:
        args = call.arguments if isinstance(call.arguments, dict) else {}
        query, k = args.get("query"), args.get("k", DEFAULT_K)
        unknown = sorted(set(args) - {"query", "k"})
        if unknown or not isinstance(query, str) or not query.strip() or type(k) is not int or not 1 <= k <= MAX_K:
            return ToolResult(call, error=f"{SEARCH_TOOL_NAME}: expects query (a non-empty string) and k (an integer "
                                          f"from 1 to {MAX_K}){f'; unexpected {unknown}' if unknown else ''}")
        if self.searches >= self.max_searches:
            return ToolResult(call, error=f"{SEARCH_TOOL_NAME}: the limit of {self.max_searches} searches per episode "
                                          "is reached")
        self.searches += 1
        hits = [tool for tool, _ in self.retriever.search(query, k)]
        for tool in hits:
            if tool.name not in self.retrieved:
                self.retrieved[tool.name] = tool
                self.tools.append(tool.tool)
        return ToolResult(call, output=[compact_schema(t) for t in hits])

    def state(self) -> dict[str, Any]:
        return self.inner.state()

    def close(self) -> None:
        self.inner.close()

    @property
    def available_tools(self) -> list[str]:
        return [SEARCH_TOOL_NAME, *self.retrieved]
