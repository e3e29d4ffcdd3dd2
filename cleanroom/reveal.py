"""What an account-level reveal may hold: checked by the coordinator before it signs one and by the
viewer before it shows one.

A reveal lists matched pairs (the viewer's account, the other side's account), each with the viewer's
and the other side's populations on the pairs the release shows, and the company (connected component
of the match graph) the pair belongs to: the unit the overlap counts count. Whatever tampered with the
match -- a dishonest re-blinding, an edited store, a deviating coordinator -- must not reveal more than
the counts say:

- every row lies on at least one population pair the release shows (not a suppressed one);
- on each shown pair, the rows name at most as many companies as the release counts there;
- a company is a connected set: rows that share an account (on either side) share its company.

With one key kind per account (the default) a company is a single matched pair, so the viewer also
checks that no two rows share one: rows on a pair then never exceed its count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def reveal_count_problems(cells: Iterable[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why ``rows`` cannot be the reveal of ``cells`` (the release's granted pairs); [] when they can.

    ``cells``: {"mine", "theirs", "count", "suppressed"}; ``rows``: {"account", "their_account",
    "mine", "theirs", "component"}.
    """
    shown = {(c["mine"], c["theirs"]): int(c["count"]) for c in cells if not c["suppressed"] and c["count"] is not None}
    problems: list[str] = []
    companies_on: dict[tuple[str, str], set[int]] = {}
    company_of: dict[tuple[str, int], int] = {}
    for row in rows:
        on = [(m, t) for m in row["mine"] for t in row["theirs"] if (m, t) in shown]
        if not on:
            problems.append(f"account {row['account']} is revealed on no population pair the release shows")
        for pair in on:
            companies_on.setdefault(pair, set()).add(int(row["component"]))
        for side, account in (("mine", row["account"]), ("theirs", row["their_account"])):
            known = company_of.setdefault((side, int(account)), int(row["component"]))
            if known != int(row["component"]):
                problems.append(f"account {account} ({side}) is put in two companies, {known} and {row['component']}")
    for (mine, theirs), companies in sorted(companies_on.items()):
        if len(companies) > shown[(mine, theirs)]:
            problems.append(
                f"{len(companies)} companies are revealed on {mine} x {theirs}, where the release counts {shown[(mine, theirs)]}"
            )
    return problems


def single_key_problems(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """With one key kind per account every company is one matched pair: two rows may not share one."""
    shared = [company for company, n in Counter(int(r["component"]) for r in rows).items() if n > 1]
    if not shared:
        return []
    return [f"{len(shared)} companies hold more than one matched pair (company {shared[0]}, say), which one key kind cannot give"]
