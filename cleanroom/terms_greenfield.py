"""Terms for greenfield sizing: partner-side populations defined by the other party's filter, and grants.

A vendor sizes the partner's accounts it does not have ("greenfield"): per granted partner population,
the partner's accounts in it minus those that matched any of the vendor's. The population may be one the
partner defines itself (``customer``), or one the vendor defines by a filter over the partner's columns
(its ideal customer profile). Such a filter is part of the terms: the partner sees and approves its exact
text, and its own client evaluates it on its own rows. Only the count of accounts outside the vendor's
list reaches the vendor, under the same guardrails and noise as every other count.

    "population_filters": {"partner": {"icp": "Employees >= 1000 and Region = EMEA"}}
    "release": {"vendor": {..., "greenfield": ["icp"]}}
"""

from __future__ import annotations

from typing import Any

from cleanroom.errors import FilterError
from cleanroom.popfilter import Population
from cleanroom.terms_checks import require

MAX_FILTERS = 16  # one per population at most


def add_greenfield(
    terms: dict[str, Any], proposer: str, counterparty: str, greenfield: list[str] | None, their_filters: dict[str, str] | None
) -> None:
    """Write into proposed ``terms`` the counterparty populations the proposer defines by a filter, and the
    proposer's greenfield grant on counterparty populations."""
    if their_filters:
        terms["population_filters"] = {counterparty: dict(their_filters)}
    if greenfield:
        terms["release"][proposer]["greenfield"] = list(dict.fromkeys(greenfield))


def parse_greenfield(
    raw: dict[str, Any], parties: list[str], populations: dict[str, tuple[str, ...]], release: dict[str, dict[str, Any]]
) -> None:
    """Check the filters (each names a population of the party it runs on, and parses) and the grants
    (each names a population of the other party; not on continuous agreements yet)."""
    filters = raw.get("population_filters", {})
    require(isinstance(filters, dict) and set(filters) <= set(parties), "population_filters must be keyed by party")
    # The coordinator's guardrails on them (population_counts.py) run at a one-off run's completion only.
    require(not filters or "continuous" not in raw, "population_filters are not available on continuous agreements yet")
    for party, defined in filters.items():
        require(
            isinstance(defined, dict) and 0 < len(defined) <= MAX_FILTERS,
            f"population_filters of {party}: 1 to {MAX_FILTERS} filters",
        )
        for name, text in defined.items():
            require(name in populations[party], f"population_filters of {party}: {name!r} is not one of its populations")
            require(isinstance(text, str), f"population_filters of {party}: the filter of {name!r} must be text")
            try:
                Population.parse(name, text)
            except FilterError as exc:
                require(False, f"{party}'s {exc}")
    for viewer, grant in release.items():
        if "greenfield" not in grant:
            continue
        other = parties[1] if viewer == parties[0] else parties[0]
        pops = grant["greenfield"]
        require(
            isinstance(pops, list) and bool(pops) and all(isinstance(p, str) and p in populations[other] for p in pops),
            f"greenfield of {viewer} must list populations of {other} ({', '.join(populations[other])})",
        )
        require(len(set(pops)) == len(pops), f"greenfield of {viewer} repeats a population")
        # A greenfield count is a difference against the overlap: granted beside the whole of it only (greenfield.py).
        require(
            grant.get("overlap_cells") == "all" and grant.get("totals") is True,
            f"greenfield of {viewer} needs its grant of every overlap cell and the totals",
        )
        require("continuous" not in raw, "greenfield sizing is not available on continuous agreements yet")


def greenfield_granted(release: dict[str, dict[str, Any]], viewer: str) -> tuple[str, ...]:
    """The other party's populations whose greenfield count the viewer is granted (terms already checked)."""
    return tuple(release.get(viewer, {}).get("greenfield", ()))
