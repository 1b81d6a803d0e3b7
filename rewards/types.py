"""Value types of the rewards package: one component's verdict, the run's reward spec, the total.

Plain dataclasses, no torch: `rl` reads `ScoreResult.components[name].score` per component and logs
each one on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Every component `rewards.score` knows, in the order they are logged. "ast_strict" is the binary
# BFCL verdict (1.0 iff valid) for runs that want no partial credit, failed by any call attempt that did not parse.
COMPONENTS: tuple[str, ...] = ("ast", "ast_strict", "execution", "format", "relevance", "decision", "length", "retrieval")


@dataclass
class RewardResult:
    """The verdict of one reward component on one episode (or one turn).

    Attributes:
        score: Partial credit in [0, 1]; 1.0 exactly when `valid`.
        valid: The strict pass/fail verdict (for `ast`, BFCL's own).
        error_type: Why it failed, from the component's documented taxonomy; None when valid
            (or "not_applicable" for components that have nothing to check on this task).
        details: Diagnostics (per-turn results, the offending call and parameter, ...). Components that score
            each user turn (ast, execution, relevance) put the turns' scores, whose mean is `score`, under
            `"turn_scores"`: the learners that credit each turn read them (rl/train/ppo.py).
    """

    score: float
    valid: bool
    error_type: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "valid": self.valid,
            "error_type": self.error_type,
            "details": self.details,
        }


@dataclass
class RewardSpec:
    """Which components make up the reward, and their weights (from the run config, never implied).

    Attributes:
        weights: Component name -> weight. Only these components are computed.
        length_limit_tokens: Episodes longer than this are penalised by the `length` component.
        format_name: The tool-call format the policy writes ("json", "pythonic", "decision", "native");
            the `format` component re-parses step text with it to find stray content around calls.
        decision_inner: The call grammar inside the decision format.
        max_output_chars: The env's output limit in the rollouts; the `execution` component replays the
            ground truth with the same limit, so that truncated outputs compare equal.
    """

    weights: dict[str, float]
    length_limit_tokens: int = 256
    format_name: str = "pythonic"
    decision_inner: str = "pythonic"
    max_output_chars: int = 1000

    def __post_init__(self) -> None:
        if not self.weights:
            raise ValueError("weights: name at least one reward component")
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"weights: unknown component {unknown[0]!r}; known: {list(COMPONENTS)}")
        if self.length_limit_tokens <= 0:
            raise ValueError(f"length_limit_tokens: must be positive, got {self.length_limit_tokens}")


@dataclass
class ScoreResult:
    """The total reward of one episode and every component that went into it.

    Attributes:
        total: sum(weight * component.score) over the spec's components.
        components: Component name -> its RewardResult (logged separately).
    """

    total: float
    components: dict[str, RewardResult]

    @property
    def scores(self) -> dict[str, float]:
        return {k: v.score for k, v in self.components.items()}
