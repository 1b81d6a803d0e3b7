"""Composition: the episode's total reward from the components a run's config names.

    spec = RewardSpec(weights={"ast": 1.0, "format": 0.2, "length": 0.1}, format_name="pythonic")
    result = rewards.score(task, episode, spec)
    result.total                      # sum(weight * component score)
    result.components["ast"].valid    # every component is kept (and logged) on its own

Only the components named in `spec.weights` are computed. Nothing here looks at the task's category.

In open mode (envs/open_world.py) the components that judge calls on the world (ast, ast_strict, execution,
relevance) see the episode without its `search_tools` calls; `retrieval` judges those, and format, decision and
length read the messages as the policy wrote them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from envs.open_world import SEARCH_TOOL_NAME, is_open
from envs.schema import tool_name
from envs.types import Episode, Task
from rewards import ast_match, decision, execution, format, length, relevance, retrieval
from rewards.types import RewardResult, RewardSpec, ScoreResult


def _ast_strict(task: Task, episode: Episode, spec: RewardSpec) -> RewardResult:
    # A training reward, not an evaluation verdict: BFCL's checker passes text that decodes to no call where no
    # call is right, so `ast` alone pays a malformed call attempt like an abstention. Here an attempt fails.
    names = [tool_name(t) for t in task.tools]
    attempt = next((a for s in episode.steps if (a := format.call_attempt(s, names)) is not None), None)
    if attempt is not None:
        return RewardResult(0.0, False, attempt)
    r = ast_match.check_episode(task, episode)
    return RewardResult(1.0 if r.valid else 0.0, r.valid, r.error_type, r.details)


COMPONENT_FNS: dict[str, Callable[[Task, Episode, RewardSpec], RewardResult]] = {
    "ast": lambda task, ep, spec: ast_match.check_episode(task, ep),
    "ast_strict": _ast_strict,
    "execution": lambda task, ep, spec: execution.check(task, ep, spec.max_output_chars),
    "format": lambda task, ep, spec: format.check(task, ep, spec.format_name, spec.decision_inner),
    "relevance": lambda task, ep, spec: relevance.check(task, ep),
    "decision": lambda task, ep, spec: decision.check(task, ep),
    "length": lambda task, ep, spec: length.check(task, ep, spec.length_limit_tokens),
    "retrieval": lambda task, ep, spec: retrieval.check(task, ep),
}
_WORLD_CALLS = frozenset({"ast", "ast_strict", "execution", "relevance"})


def score(task: Task, episode: Episode, spec: RewardSpec) -> ScoreResult:
    """Scores one episode.

    Args:
        task: The task the episode played.
        episode: The transcript (steps with calls and results, per-turn and final env states).
        spec: Component weights and the settings components need (format, length limit).

    Returns:
        ScoreResult(total=sum(weight * score), components={name: RewardResult}) for the spec's
        components, in the spec's order.
    """
    world = without_searches(episode) if is_open(task) else episode
    components = {name: COMPONENT_FNS[name](task, world if name in _WORLD_CALLS else episode, spec)
                  for name in spec.weights}
    total = sum(spec.weights[name] * r.score for name, r in components.items())
    return ScoreResult(total=total, components=components)


def without_searches(episode: Episode) -> Episode:
    """A copy of the episode whose steps hold no `search_tools` call (nor its result)."""
    steps = []
    for step in episode.steps:
        keep = [i for i, c in enumerate(step.calls) if c.name != SEARCH_TOOL_NAME]
        if len(keep) == len(step.calls):
            steps.append(step)
            continue
        steps.append(dataclasses.replace(step, calls=[step.calls[i] for i in keep],
                                         results=[step.results[i] for i in keep if i < len(step.results)]))
    return dataclasses.replace(episode, steps=steps)
