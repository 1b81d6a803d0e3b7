"""Length reward: a penalty for overlong episodes.

Score 1.0 up to `limit_tokens` generated tokens, then falling linearly to 0.0 at twice the limit.
An episode the rollout had to cut short (`Episode.truncated`: it hit the turn or token limit) scores 0.
Error types: `too_long`, `truncated`.
"""

from __future__ import annotations

from envs.types import Episode, Task
from rewards.types import RewardResult

ERROR_TYPES = {
    "too_long": "the episode generated more tokens than the limit",
    "truncated": "the rollout cut the episode short (turn or token limit)",
}


def check(task: Task, episode: Episode, limit_tokens: int = 256) -> RewardResult:
    """Scores the episode's length (generated tokens) against `limit_tokens`."""
    n = episode.num_tokens
    details = {"num_tokens": n, "limit_tokens": limit_tokens}
    if episode.truncated:
        return RewardResult(0.0, False, "truncated", details)
    if n <= limit_tokens:
        return RewardResult(1.0, True, None, details)
    score = max(0.0, 1.0 - (n - limit_tokens) / limit_tokens)
    return RewardResult(min(score, 0.999), False, "too_long", details)
