"""Differential privacy for released counts: discrete Laplace noise from OpenDP.

Never hand-rolled float noise: OpenDP samples the discrete Laplace
distribution exactly over the integers, and its privacy map tells us the
epsilon a given scale costs. The noise is drawn once per run, for the whole
matrix and the total; every viewer's release is post-processing of that one
draw, so both sides still see the same numbers (transposed).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import opendp.prelude as dp

dp.enable_features("contrib")


def sensitivity(a_populations: int, b_populations: int) -> int:
    """L1 sensitivity of (matrix cells + overlap total) to one company.

    One company present in every population of both sides moves every cell
    and the total by one.
    """
    return a_populations * b_populations + 1


# Building a measurement and asking its privacy map cost more than drawing the noise; a run asks the same
# few scales again and again, and a measurement is immutable, so both are kept.
@lru_cache(maxsize=256)
def _mechanism(scale: float) -> Any:
    return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale)


@lru_cache(maxsize=256)
def scale_for(epsilon: float, l1_sensitivity: int) -> float:
    """The smallest noise scale whose privacy loss at this sensitivity is at most epsilon."""
    scale = l1_sensitivity / epsilon
    while _mechanism(scale).map(l1_sensitivity) > epsilon:  # float rounding in the map
        scale *= 1.0 + 1e-9
    return scale


def noisy(values: list[int], scale: float) -> list[int]:
    """Discrete Laplace noise on each value (one OpenDP release)."""
    return list(_mechanism(scale)(list(values)))


def post_process(
    noisy_matrix: list[list[int]], noisy_total: int, a_accounts: int, b_accounts: int
) -> tuple[list[list[int]], int]:
    """Clamp into what is possible: 0 <= count <= min(set sizes) (set sizes are public to both)."""
    cap = min(a_accounts, b_accounts)
    matrix = [[min(max(v, 0), cap) for v in row] for row in noisy_matrix]
    return matrix, min(max(noisy_total, 0), cap)


def flatten(matrix: list[list[int]], total: int) -> list[int]:
    """The released numbers as one vector, the order noise is drawn in: cells row by row, then the total."""
    return [v for row in matrix for v in row] + [total]


def unflatten(flat: list[int], rows: int, cols: int) -> tuple[list[list[int]], int]:
    """Inverse of ``flatten``: the matrix of ``rows`` x ``cols`` cells and the total."""
    return [flat[i * cols : (i + 1) * cols] for i in range(rows)], flat[-1]


def privatise(
    matrix: list[list[int]], total: int, epsilon: float, a_accounts: int, b_accounts: int, extra: tuple[int, ...] = ()
) -> dict[str, Any]:
    """``extra``: further counts released with the matrix (greenfield: a side's accounts in a population that
    matched nothing), each moved by at most one by one company: drawn in the same release, at a scale for
    the sensitivity they add, so the whole release still costs epsilon. Returned noisy, not clamped."""
    rows, cols = len(matrix), len(matrix[0]) if matrix else 0
    scale = scale_for(epsilon, sensitivity(rows, cols) + len(extra))
    flat = noisy(flatten(matrix, total) + list(extra), scale)
    noisy_matrix, noisy_total = unflatten(flat[: len(flat) - len(extra)], rows, cols)
    matrix_pp, total_pp = post_process(noisy_matrix, noisy_total, a_accounts, b_accounts)
    return {"matrix": matrix_pp, "overlap": total_pp, "scale": scale, "epsilon": epsilon, "extra": flat[len(flat) - len(extra) :]}
