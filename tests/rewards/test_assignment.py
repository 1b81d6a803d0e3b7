"""The Hungarian assignment behind partial credit, against brute force."""

from __future__ import annotations

import itertools
import random

import pytest

from rewards.assignment import max_assignment


def brute_force(w: list[list[float]]) -> float:
    n, m = len(w), len(w[0])
    if n <= m:
        return max(sum(w[i][c] for i, c in enumerate(cols)) for cols in itertools.permutations(range(m), n))
    return max(sum(w[r][j] for j, r in enumerate(rows)) for rows in itertools.permutations(range(n), m))


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (2, 2), (3, 3), (2, 5), (5, 3), (4, 4)])
def test_matches_brute_force(shape):
    rng = random.Random(sum(shape))
    for _ in range(50):
        w = [[rng.choice([0.0, 0.2, rng.random(), 1.0]) for _ in range(shape[1])] for _ in range(shape[0])]
        total, pairs = max_assignment(w)
        assert total == pytest.approx(brute_force(w))
        assert len(pairs) == min(shape)
        assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
        assert total == pytest.approx(sum(w[r][c] for r, c in pairs))


def test_empty():
    assert max_assignment([]) == (0.0, [])
