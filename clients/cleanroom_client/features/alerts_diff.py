"""What changed between two releases of one agreement: pure functions, no I/O.

Counts are compared cell by cell (our population x theirs) and total by total,
as the releases show them: a suppressed cell reads "< k", never a number, so a
change from or to a suppressed cell reveals nothing the releases did not.
Account-level events come from our own revealed rows (which only we can join
back to our names), keyed by our account's domain (or its first key): the
account labels are per run and cannot be compared across runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TOTALS = ("mine", "theirs", "overlap")


@dataclass(frozen=True)
class CountChange:
    """One number that changed: a cell ("customer x opportunity") or a total ("overlap")."""

    name: str
    before: str
    after: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class AccountEvent:
    """One of our accounts that the partner now has, no longer has, or has in other populations."""

    event: str  # "newly_revealed" | "populations_changed" | "no_longer_revealed"
    account: str  # our own name for it (the partner never learns it)
    domain: str
    our_populations: tuple[str, ...]
    before: tuple[str, ...]  # the partner's populations in the previous reveal (empty: not revealed)
    after: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "account": self.account,
            "domain": self.domain,
            "our_populations": list(self.our_populations),
            "partner_populations_before": list(self.before),
            "partner_populations_after": list(self.after),
        }


@dataclass
class ChangeSet:
    """Everything that changed between the previous release of an agreement and this one."""

    agreement_id: str
    partner: str
    previous_run_id: str
    run_id: str
    cells: list[CountChange] = field(default_factory=list)
    totals: list[CountChange] = field(default_factory=list)
    accounts: list[AccountEvent] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.cells or self.totals or self.accounts)


def shown(count: int, suppressed: bool, min_count: int) -> str:
    """A released number as people read it: suppressed ones as "< k"."""
    return f"< {min_count}" if suppressed else str(count)


def _cells(release: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    k = int(release.get("min_count", 0))
    return {(c["mine"], c["theirs"]): shown(int(c["count"]), bool(c["suppressed"]), k) for c in release["cells"]}


def _totals(release: Mapping[str, Any]) -> dict[str, str]:
    totals, k = release["totals"], int(release.get("min_count", 0))
    return {
        "mine": str(totals["mine"]),
        "theirs": str(totals["theirs"]),
        "overlap": shown(int(totals["overlap"]), bool(totals.get("overlap_suppressed")), k),
    }


def diff_counts(previous: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[list[CountChange], list[CountChange]]:
    """(changed cells, changed totals) from ``previous`` to ``current`` (overlap releases as kept in the receipts).

    A cell present on one side only (the terms changed the populations) reads "-" on the other."""
    before, after = _cells(previous), _cells(current)
    cells = [
        CountChange(f"{mine} x {theirs}", before.get((mine, theirs), "-"), after.get((mine, theirs), "-"))
        for mine, theirs in sorted(set(before) | set(after))
        if before.get((mine, theirs)) != after.get((mine, theirs))
    ]
    tb, ta = _totals(previous), _totals(current)
    totals = [CountChange(name, tb[name], ta[name]) for name in TOTALS if tb[name] != ta[name]]
    return cells, totals


def revealed_snapshot(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Our revealed accounts as an alert remembers them: key -> name, domain, our and the partner's populations.

    ``rows`` are ``Revealed.rows`` (our account as kept at map time, the partner's populations)."""
    snapshot: dict[str, dict[str, Any]] = {}
    for row in rows:
        account = row["account"]
        key = account.get("domain") or (account.get("keys") or [account.get("name") or ""])[0]
        entry = snapshot.setdefault(
            key,
            {
                "name": account.get("name") or key,
                "domain": account.get("domain") or "",
                "ours": sorted(account.get("populations", [])),
                "theirs": [],
            },
        )
        entry["theirs"] = sorted(set(entry["theirs"]) | set(row["partner_populations"]))
    return snapshot


def diff_revealed(previous: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]) -> list[AccountEvent]:
    """Account events from one reveal snapshot (``revealed_snapshot``) to the next, ordered by our account's name."""
    events = []
    for key in sorted(set(previous) | set(current), key=lambda k: ((current.get(k) or previous[k])["name"].lower(), k)):
        old, new = previous.get(key), current.get(key)
        if old is not None and new is not None and list(old["theirs"]) == list(new["theirs"]):
            continue
        kind = "newly_revealed" if old is None else "no_longer_revealed" if new is None else "populations_changed"
        ref = new if new is not None else old
        assert ref is not None  # the key came from one of the two
        events.append(
            AccountEvent(
                kind,
                ref["name"],
                ref["domain"],
                tuple(ref["ours"]),
                tuple(old["theirs"]) if old else (),
                tuple(new["theirs"]) if new else (),
            )
        )
    return events
