"""Continual release under differential privacy: the binary-tree counter.

A continuous agreement releases a new overlap matrix once per epoch t = 1, 2, ...
(the t-th completed run). Fresh noise per release would cost epsilon per release,
and differencing two consecutive releases is exactly the attack. Instead (Dwork,
Naor, Pitassi, Rothblum 2010; Chan, Shi, Song 2011):

* Cut time into dyadic nodes: node (level, index) covers epochs
  [index * 2**level + 1, (index + 1) * 2**level]. Every prefix [1, t] is the
  disjoint union of the nodes given by the binary digits of t (``prefix_nodes``).
* Each node gets one vector of discrete Laplace noise from OpenDP (one value per
  matrix cell plus one for the total, as ``noise.privatise`` flattens them),
  drawn once, when a release first needs it, and stored by the coordinator.
* Release t is exact(t) + the sum of the noise of the nodes of [1, t], then
  clamped like any release (``noise.post_process``, free post-processing).

Why it is private. Write exact(t) as the sum of per-epoch increments. The
release is then a post-processing of "noisy increment sum over each node". An
*event* (one match appearing, or one match disappearing, at one epoch) changes
one epoch's increments by the usual L1 sensitivity, so it moves the sum of the
one node per level that contains that epoch: over a horizon of H epochs the
tree has L = levels(H) levels, and the whole vector of node sums moves by at
most L * sensitivity. One OpenDP discrete Laplace release at sensitivity
L * sensitivity (``node_scale``) therefore makes the whole stream of H releases
epsilon-DP per event. Releases 1..t only use nodes inside [1, t], so they cost
epsilon * min(L, floor(log2 t) + 1) / L (``loss_after``): the budget ledger
charges each release the growth of that number.

What it protects, and what not:

* Event-level, not account-level. An account whose match is present in every
  epoch of the stream is one event: epsilon for all H releases (fresh noise would
  charge H * epsilon). An account whose match appears and disappears is one
  event per change: k changes (appearing k times and disappearing k times is 2k
  changes) are protected only at k * epsilon, by group privacy. Churny accounts
  are the weak spot; the agreement's epsilon should be chosen for them.
* The horizon is part of the guarantee. Past H the tree has no levels left: the
  agreement must be proposed anew, and a new stream costs a new
  epsilon on top (composition is additive).
* The stored node noise is as secret as the exact counts: whoever reads it can
  subtract it from every release. The coordinator computes exact counts in any
  case; DP protects against the participants, not against the coordinator.
* Releases of one stream must all use the same epsilon, horizon and matrix
  shape: the stored noise was drawn at one scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from cleanroom.coordinator.noise import flatten, noisy, post_process, scale_for, sensitivity, unflatten
from cleanroom.errors import FailedPrecondition, InvalidArgument

Node = tuple[int, int]  # (level, index): epochs index * 2**level + 1 .. (index + 1) * 2**level


@dataclass(frozen=True)
class ContinualRelease:
    """One epoch's release: what the viewers see, and the node noise the caller must store."""

    matrix: list[list[int]]
    overlap: int
    scale: float  # of every node's noise
    new_nodes: dict[Node, list[int]]  # drawn for this release; store them, never redraw
    cumulative_loss: float  # loss_after(t): what releases 1..t of this stream cost together


def levels(horizon: int) -> int:
    """Tree levels over ``horizon`` epochs: floor(log2 horizon) + 1.

    Every t <= horizon has at most that many binary digits, so it decomposes into
    at most that many nodes, and every epoch lies in one node per level.
    """
    if horizon < 1:
        raise InvalidArgument(f"a continual-release horizon must be at least 1 epoch, not {horizon}")
    return horizon.bit_length()


def interval(node: Node) -> tuple[int, int]:
    """The first and last epoch a node covers."""
    level, index = node
    return index * 2**level + 1, (index + 1) * 2**level


def prefix_nodes(t: int) -> list[Node]:
    """The dyadic nodes partitioning epochs [1, t], oldest (largest) first: one per binary digit of t."""
    if t < 1:
        raise InvalidArgument(f"epochs are numbered from 1; there is no epoch {t}")
    nodes: list[Node] = []
    start = 0  # epochs covered so far; a multiple of 2**level at each level it reaches
    for level in reversed(range(t.bit_length())):
        if t >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def _check_epsilon(epsilon: float) -> None:
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise InvalidArgument(f"epsilon must be a positive number, not {epsilon}")


@lru_cache(maxsize=256)  # pure, and every release of a stream asks for the same scale
def node_scale(epsilon: float, horizon: int, l1_sensitivity: int) -> float:
    """Noise scale of every node, so that the whole stream of ``horizon`` releases costs ``epsilon``.

    An event moves the sums of levels(horizon) nodes by ``l1_sensitivity`` each:
    the vector of all node sums moves by at most their product, and OpenDP's
    privacy map (``noise.scale_for``) sizes one release of it at epsilon.
    """
    _check_epsilon(epsilon)
    if l1_sensitivity < 1:
        raise InvalidArgument(f"l1 sensitivity must be at least 1, not {l1_sensitivity}")
    return scale_for(epsilon, levels(horizon) * l1_sensitivity)


def _check_epoch(t: int, horizon: int) -> None:
    if t > horizon:
        raise FailedPrecondition(
            f"the agreement's continual-release horizon of {horizon} epochs is spent (this would be epoch {t}); "
            "propose a new agreement to release more"
        )


def loss_after(t: int, epsilon: float, horizon: int) -> float:
    """Privacy loss of releases 1..t of one stream (0 for t = 0).

    They use only nodes inside [1, t], of levels 0..floor(log2 t): an event moves
    at most one of them per level, each at epsilon / L. At t = horizon this is
    exactly ``epsilon``. The ledger charges release t
    ``max(0, loss_after(t) - spent so far on this stream)``.
    """
    _check_epsilon(epsilon)
    total_levels = levels(horizon)
    if t < 0:
        raise InvalidArgument(f"epochs are numbered from 1; there is no epoch {t}")
    _check_epoch(t, horizon)
    touched = min(total_levels, t.bit_length())  # bit_length(t) = floor(log2 t) + 1 for t >= 1, 0 for t = 0
    return epsilon if touched == total_levels else epsilon * touched / total_levels


def _shape(matrix: list[list[int]]) -> tuple[int, int]:
    rows, cols = len(matrix), len(matrix[0]) if matrix else 0
    if any(len(row) != cols for row in matrix):
        raise InvalidArgument("the overlap matrix must have the same number of cells in every row")
    return rows, cols


def continual_privatise(
    matrix: list[list[int]],
    total: int,
    t: int,
    epsilon: float,
    horizon: int,
    a_accounts: int,
    b_accounts: int,
    stored: Mapping[Node, list[int]],
    events: int = 1,
) -> ContinualRelease:
    """Release epoch ``t`` of a stream: exact counts plus the stored (or newly drawn) noise of [1, t]'s nodes.

    ``stored`` holds the node noise drawn by earlier releases of this stream
    (extra nodes are ignored). ``events``: how many events one account may cause over the stream (the
    noise is calibrated for that many, so the guarantee is per account). Nodes of [1, t] missing from it are drawn now,
    returned in ``new_nodes``, and must be stored before the release is shown:
    a redrawn node would let a viewer average it away.
    """
    if t < 1:
        raise InvalidArgument(f"epochs are numbered from 1; there is no epoch {t}")
    levels(horizon)  # refuses a horizon below 1 before anything else
    _check_epoch(t, horizon)
    rows, cols = _shape(matrix)
    exact = flatten(matrix, total)
    scale = node_scale(epsilon, horizon, events * sensitivity(rows, cols))
    nodes = prefix_nodes(t)
    for node in nodes:
        if node in stored and len(stored[node]) != len(exact):
            raise FailedPrecondition(
                f"the stored noise of node {node} has {len(stored[node])} values but this release has "
                f"{len(exact)}: the matrix shape changed within a stream; propose a new agreement"
            )
    missing = [node for node in nodes if node not in stored]
    drawn = noisy([0] * (len(exact) * len(missing)), scale) if missing else []  # one OpenDP release for all
    new_nodes = {node: drawn[i * len(exact) : (i + 1) * len(exact)] for i, node in enumerate(missing)}
    noise = {**{node: list(stored[node]) for node in nodes if node in stored}, **new_nodes}
    released = [value + sum(noise[node][i] for node in nodes) for i, value in enumerate(exact)]
    noisy_matrix, noisy_total = unflatten(released, rows, cols)
    matrix_pp, total_pp = post_process(noisy_matrix, noisy_total, a_accounts, b_accounts)
    return ContinualRelease(matrix_pp, total_pp, scale, new_nodes, loss_after(t, epsilon, horizon))
