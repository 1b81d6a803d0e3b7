"""Rewards: pure functions that score an episode against its task. No torch, ray or transformers.

    from rewards import RewardSpec, score
    result = score(task, episode, RewardSpec(weights={"ast": 1.0, "format": 0.1}))
    result.total, result.components["ast"].valid

Components (each `check(...) -> RewardResult`, each with a documented `ERROR_TYPES` taxonomy):
    ast_match.check(tools, calls, ground_truth)   BFCL's AST verdict, exactly, plus partial credit
    execution.check(task, episode)                 env state and outputs vs a replay of the ground truth
    format.check(task, episode)                    clean parses, nothing stray around calls
    relevance.check(task, episode)                 call iff a tool fits; ask when information is missing
    decision.check(task, episode)                  the right decision token (decision format)
    length.check(task, episode, limit_tokens)      overlong penalty
    retrieval.check(task, episode)                 open mode: golden tools found by search_tools, cheaply
    agentic.check(task, episode)                   BFCL memory questions: an accepted answer in the final reply
                                                   (BFCL's verdict for evaluation; not a training component)
"""

from rewards import agentic, ast_match, decision, execution, format, length, relevance, retrieval
from rewards.compose import COMPONENT_FNS, score
from rewards.types import COMPONENTS, RewardResult, RewardSpec, ScoreResult

__all__ = [
    "COMPONENTS",
    "COMPONENT_FNS",
    "RewardResult",
    "RewardSpec",
    "ScoreResult",
    "agentic",
    "ast_match",
    "decision",
    "execution",
    "format",
    "length",
    "relevance",
    "retrieval",
    "score",
]
