"""Custom populations: accounts put in a population by a filter over our file's columns.

A filter is either ours (``--population NAME='...'``: only NAME ever leaves the machine) or the other
party's, written into the agreed terms (a partner-side population the vendor defines, e.g. its ideal
customer profile, evaluated here on our rows: we approved its exact text with the terms). Either way it
is bound to the file's header before any row is evaluated, so a missing column is one error naming the
population and the column.

An account is in a custom population when any of its rows passes the filter. A custom population
named like a stage population (``customer``) replaces it: the filter decides, not the stage column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from cleanroom.errors import FilterError, InputError
from cleanroom.popfilter import Population
from cleanroom.terms import Terms
from cleanroom_client.inputs.account import Account
from cleanroom_client.inputs.accounts import LoadResult
from cleanroom_client.inputs.populations import valid_population
from cleanroom_client.inputs.readers import TableStream


def parse_option(text: str, option: str = "--population") -> Population:
    """``NAME=FILTER`` as given to ``option``; FilterError naming the population and the position."""
    name, sep, expression = text.partition("=")
    name = name.strip()
    if not sep or not valid_population(name):
        raise InputError(
            f"{option} {text[:60]!r}: give NAME=FILTER, NAME a lower-case word like 'emea_enterprise' "
            f"(e.g. {option} emea_enterprise='Region = \"EMEA\" and Employees >= 1000')"
        )
    return Population.parse(name, expression)


def parse_options(texts: Sequence[str] | None, option: str = "--population") -> list[Population]:
    populations = [parse_option(t, option) for t in texts or ()]
    names = [p.name for p in populations]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{option} {repeated[0]!r} is given twice")
    return populations


def terms_populations(terms: Terms, party: str) -> list[Population]:
    """The populations of ``party`` that the agreed terms define by a filter (the other party's ICP)."""
    filters = terms.raw.get("population_filters", {}).get(party, {})
    return [Population.parse(name, text) for name, text in sorted(filters.items())]


def check_header(path: Path | str, populations: Sequence[Population]) -> None:
    """Every column the filters name is in the file's header: checked before the file is read for accounts."""
    if populations:
        with TableStream(path) as table:
            for population in populations:
                population.bind(table.columns)


def matching_rows(path: Path | str, populations: Sequence[Population]) -> dict[str, np.ndarray]:
    """Per population, whether each data row (index = row number - 1, as accounts number them) passes its filter."""
    with TableStream(path) as table:
        predicates = [(p.name, p.bind(table.columns)) for p in populations]
        hits: dict[str, list[bool]] = {name: [] for name, _ in predicates}
        for number, cells in enumerate(table.rows(), start=1):
            for name, predicate in predicates:
                hits[name].append(predicate(cells, number))
    return {name: np.array(flags, dtype=bool) for name, flags in hits.items()}


def with_populations(loaded: LoadResult, populations: Sequence[Population]) -> LoadResult:
    """``loaded`` with each account's custom populations set by the filters (replacing any stage population
    of the same name); the same LoadResult when there are none."""
    if not populations:
        return loaded
    hits = matching_rows(loaded.source, populations)
    names = set(hits)
    accounts: list[Account] = []
    for account in loaded.accounts:
        rows = np.asarray(account.rows, dtype=np.int64) - 1
        custom = {name for name, flags in hits.items() if bool(flags[rows[rows < len(flags)]].any())}
        kept = {p for p in account.populations if p not in names}
        populations_now = tuple(sorted(kept | custom))
        accounts.append(account if populations_now == account.populations else replace(account, populations=populations_now))
    return replace(loaded, accounts=accounts, custom=tuple(dict.fromkeys([*loaded.custom, *names])))


def check_sizes(loaded: LoadResult, names: Sequence[str], minimum: int, agreement: str = "") -> None:
    """The minimum set size applies to each custom population as to the whole set: a population of a few
    accounts would tell its owner about those few. Empty is allowed (it tells nothing)."""
    if not names:  # counting costs a pass over every account: only when a custom population is mapped
        return
    counts = loaded.totals()["by_population"]
    assert isinstance(counts, dict)
    for name in names:
        size = int(counts.get(name, 0))
        if 0 < size < minimum:
            under = f" under agreement {agreement}" if agreement else ""
            raise FilterError(
                f"population {name!r} holds {size} account(s), below the minimum set size of {minimum}{under}: "
                "a population that small may not be mapped (widen its filter, or leave it out)"
            )


def as_empty_when_small(loaded: LoadResult, names: Sequence[str], minimum: int) -> LoadResult:
    """``loaded`` with each of ``names`` that holds 1 .. ``minimum`` - 1 accounts taken off every account. For the
    populations the other party defines by a filter: refusing to map would leave the run waiting for our upload,
    and that stall would tell the filter's author we have those few accounts; mapped empty, it tells what an
    empty population does (its cells suppressed)."""
    counts = loaded.totals()["by_population"] if names else {}
    assert isinstance(counts, dict)
    small = {n for n in names if 0 < int(counts.get(n, 0)) < minimum}
    if not small:
        return loaded
    accounts = [
        replace(a, populations=tuple(p for p in a.populations if p not in small)) if small & set(a.populations) else a
        for a in loaded.accounts
    ]
    return replace(loaded, accounts=accounts)


def for_agreement(loaded: LoadResult, terms: Terms, party: str, agreement_id: str) -> LoadResult:
    """Our file as one agreement sees it: the populations its terms define by a filter added (mapped empty when
    they hold fewer accounts than its minimum set size), and every custom population of ours it maps held to
    that minimum."""
    theirs = terms_populations(terms, party)
    loaded = as_empty_when_small(with_populations(loaded, theirs), [p.name for p in theirs], terms.min_set_size)
    defined = {p.name for p in theirs}
    mapped = [n for n in loaded.custom if n in terms.populations[party] and n not in defined]
    check_sizes(loaded, mapped, terms.min_set_size, agreement_id)
    return loaded
