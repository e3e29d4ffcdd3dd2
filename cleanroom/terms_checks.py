"""The checks terms building and parsing are made of: each failure names the term, for the party that wrote it."""

from __future__ import annotations

from typing import Any

from cleanroom.errors import InvalidArgument


def require(cond: bool, message: str) -> None:
    if not cond:
        raise InvalidArgument(f"terms: {message}")


def int_field(obj: dict[str, Any], key: str, minimum: int) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"terms: {key} must be an integer >= {minimum}")
    return value


REVEAL_TO = ("both", "proposer", "counterparty")


def grant_reveal(
    release: dict[str, dict[str, Any]],
    proposer: str,
    counterparty: str,
    populations: list[str],
    theirs_pops: list[str],
    reveal: list[tuple[str, str]],
    reveal_to: str,
) -> None:
    """Add account-level reveal of ``reveal``'s pairs to the release of ``reveal_to`` (transposed for the counterparty)."""
    if reveal_to not in REVEAL_TO:
        raise InvalidArgument(f"terms: reveal_to must be one of {', '.join(REVEAL_TO)}, not {reveal_to!r}")
    pairs = [list(p) for p in dict.fromkeys(tuple(p) for p in reveal)]
    for mine, theirs in pairs:
        if mine not in populations or theirs not in theirs_pops:
            raise InvalidArgument(
                f"terms: reveal pair {mine}:{theirs} must name one of your populations ({', '.join(populations)}) "
                f"and then one of {counterparty}'s ({', '.join(theirs_pops)})"
            )
    if reveal_to in ("both", "proposer"):
        release[proposer]["reveal"] = pairs
    if reveal_to in ("both", "counterparty"):
        release[counterparty]["reveal"] = [[t, m] for m, t in pairs]
