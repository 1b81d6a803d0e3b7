"""Composition: the episode's total reward from the components a run's config names.

    spec = RewardSpec(weights={"ast": 1.0, "format": 0.2, "length": 0.1}, format_name="pythonic")
    result = rewards.score(task, episode, spec)
    result.total                      # sum(weight * component score)
    result.components["ast"].valid    # every component is kept (and logged) on its own

Only the components named in `spec.weights` are computed. Nothing here looks at the task's category.
"""

from __future__ import annotations

from collections.abc import Callable

from envs.types import Episode, Task
from rewards import ast_match, decision, execution, format, length, relevance
from rewards.types import RewardResult, RewardSpec, ScoreResult


def _ast_strict(task: Task, episode: Episode, spec: RewardSpec) -> RewardResult:
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
}


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
    components = {name: COMPONENT_FNS[name](task, episode, spec) for name in spec.weights}
    total = sum(spec.weights[name] * r.score for name, r in components.items())
    return ScoreResult(total=total, components=components)
