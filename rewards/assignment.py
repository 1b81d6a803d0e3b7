"""Best one-to-one assignment (Hungarian algorithm) for partial credit over unordered call lists."""

from __future__ import annotations


def max_assignment(weights: list[list[float]]) -> tuple[float, list[tuple[int, int]]]:
    """Maximum-weight one-to-one matching of rows to columns.

    Args:
        weights: A rows x cols matrix of non-negative weights (rows and cols may differ in number).

    Returns:
        (total weight, [(row, col), ...]) of an optimal matching of min(rows, cols) pairs.
    """
    n = len(weights)
    m = len(weights[0]) if n else 0
    if n == 0 or m == 0:
        return 0.0, []
    if n == 1 or m == 1:  # one row or one column: the best single cell
        r, c = max(((r, c) for r in range(n) for c in range(m)), key=lambda rc: weights[rc[0]][rc[1]])
        return weights[r][c], [(r, c)]
    if n > m:  # the algorithm below wants rows <= cols
        total, pairs = max_assignment([list(col) for col in zip(*weights, strict=True)])
        return total, [(r, c) for c, r in pairs]
    # Shortest-augmenting-path Hungarian algorithm on costs = -weights, O(n^2 m). Index 0 is a sentinel.
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    match = [0] * (m + 1)  # match[col] = row (1-based), 0 = free
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        match[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = match[j0], inf, 0
            row = weights[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = -row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:  # augment along the path
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    pairs = [(match[j] - 1, j - 1) for j in range(1, m + 1) if match[j]]
    return sum(weights[r][c] for r, c in pairs), pairs
