"""The `retrieval` component: did the policy find the task's tools with `search_tools` (open mode), and cheaply?

    r = retrieval.check(task, episode)   # RewardResult; r.details["recall"], ["searches"], ["returned"]

The golden tools are those the task's ground truth calls. A search's result is the list of compact schemas the
env returned (envs/open_world.py); a tool counts as found once any search returned it. The score is the recall of
the golden tools, less a cost for each wasteful act:

    score = max(0, recall - 0.1 * extra searches - 0.2 * repeated searches - 0.2 * calls to unreturned tools
                       - 0.02 * returned tools beyond RESULTS_PER_TOOL per golden tool)

One search per golden tool is free, and so is a first search on a task with no golden tool (the policy may look
before deciding that nothing fits). Valid iff every golden tool was found and nothing was wasted. Golden-mode
tasks get "not_applicable" (score 1).
"""

from __future__ import annotations

from typing import Any

from envs.open_world import SEARCH_TOOL_NAME, is_open
from envs.types import Episode, Task
from rewards.types import RewardResult

ERROR_TYPES: dict[str, str] = {
    "not_applicable": "the task is not in open mode (its tools are in the prompt)",
    "no_search": "the task needs a tool and the policy never searched",
    "missed_golden": "some golden tool was never returned by a search",
    "unretrieved_call": "a call to a tool no earlier search had returned (a guessed or hallucinated name)",
    "repeated_search": "the same query twice",
    "extra_searches": "more searches than golden tools (one more on a task that needs none)",
    "oversized_results": "more returned tools than RESULTS_PER_TOOL per golden tool",
}
EXTRA_SEARCH_COST = 0.1
REPEAT_COST = 0.2
UNRETRIEVED_CALL_COST = 0.2
OVERSIZE_COST_PER_TOOL = 0.02
RESULTS_PER_TOOL = 5


def golden_tools(task: Task) -> list[str]:
    """Names of the tools the task's ground truth calls, in first-call order."""
    return list(dict.fromkeys(name for turn in task.ground_truth for call in turn for name in call))


def check(task: Task, episode: Episode) -> RewardResult:
    """Scores the episode's searches (see the module docstring)."""
    if not is_open(task):
        return RewardResult(1.0, True, "not_applicable")
    golden = golden_tools(task)
    queries: list[str] = []
    returned: dict[str, None] = {}  # in the order they were first returned
    unretrieved = []
    for step in episode.steps:
        for i, call in enumerate(step.calls):
            result = step.results[i] if i < len(step.results) else None
            if call.name == SEARCH_TOOL_NAME:
                query = call.arguments.get("query") if isinstance(call.arguments, dict) else None
                queries.append(" ".join(str(query).lower().split()))
                if result is not None and isinstance(result.output, list):
                    returned.update((str(t.get("name")), None) for t in result.output if isinstance(t, dict))
            elif call.name not in returned:
                unretrieved.append(call.name)
    found = [g for g in golden if g in returned]
    recall = len(found) / len(golden) if golden else 1.0
    extra = max(0, len(queries) - max(len(golden), 1))
    repeated = len(queries) - len(set(queries))
    oversize = max(0, len(returned) - RESULTS_PER_TOOL * max(len(golden), 1))
    details: dict[str, Any] = {"recall": recall, "searches": len(queries), "returned": len(returned),
                               "golden": golden, "found": found}
    if golden and not queries:
        return RewardResult(0.0, False, "no_search", details)
    cost = (EXTRA_SEARCH_COST * extra + REPEAT_COST * repeated + UNRETRIEVED_CALL_COST * len(unretrieved)
            + OVERSIZE_COST_PER_TOOL * oversize)
    problems = [("missed_golden", recall < 1.0), ("unretrieved_call", bool(unretrieved)),
                ("repeated_search", repeated > 0), ("extra_searches", extra > 0), ("oversized_results", oversize > 0)]
    error = next((name for name, bad in problems if bad), None)
    if unretrieved:
        details["unretrieved_calls"] = unretrieved
    if error is None:
        return RewardResult(1.0, True, None, details)
    return RewardResult(min(max(0.0, recall - cost), 0.99), False, error, details)
