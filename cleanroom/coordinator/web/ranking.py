"""The viewer's partners ranked by released overlap: by one population pair, or by the total overlap."""

from __future__ import annotations

from typing import Any

from cleanroom.coordinator.store.reads import WebReads
from cleanroom.coordinator.web.access import viewer_for
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.integrity import checked_overlap
from cleanroom.errors import DataLoss, InvalidArgument


def _missing_cell(cells: list[dict[str, Any]], mine: str, theirs: str | None, partner: str) -> str:
    if all(c["mine"] != mine for c in cells):
        return f"no released cell for your population {mine!r}"
    if all(c["theirs"] != theirs for c in cells):
        return f"no released cell for {partner}'s population {theirs!r}"
    return "the terms do not release this cell to you"


def _count(release: dict[str, Any], mine: str | None, theirs: str | None, partner: str) -> tuple[Any, bool] | str:
    """(count, suppressed) to rank the release by, or why it has none."""
    cells = release.get("cells", [])
    if mine is not None:
        cell = next((c for c in cells if c["mine"] == mine and c["theirs"] == theirs), None)
        if cell is None:
            return _missing_cell(cells, mine, theirs, partner)
        return cell["count"], bool(cell["suppressed"])
    totals = release["totals"]
    count, suppressed = totals.get("overlap"), bool(totals.get("overlap_suppressed"))
    if count is None and not suppressed:
        return "the terms do not release the total overlap to you"
    return count, suppressed


def _ranked(base: dict[str, Any], release: dict[str, Any], count: Any, suppressed: bool) -> dict[str, Any]:
    my_accounts = release["totals"].get("mine")
    return {
        **base,
        "run_id": release.get("run_id"),
        "released_at": release.get("released_at"),
        "count": count,
        "suppressed": suppressed,
        "min_count": release.get("min_count"),
        "my_accounts": my_accounts,
        "their_accounts": release["totals"].get("theirs"),
        "share_of_mine": (count / my_accounts) if count is not None and my_accounts else None,
        "dp": "dp" in release,
    }


def ranking(
    reads: WebReads, p: Principal, *, viewer: str | None = None, mine: str | None = None, theirs: str | None = None
) -> dict[str, Any]:
    """Every partner of the viewer, ranked by the latest overlap released to the viewer; the rest with the reason."""
    viewer = viewer_for(p, viewer)
    if (mine is None) != (theirs is None):
        raise InvalidArgument(
            "name both populations (mine and theirs) to rank by one cell, or neither to rank by the total overlap"
        )
    releases: dict[str, dict[str, Any]] = {}
    tampered: dict[str, str] = {}
    for agreement_id, stored in reads.latest_overlaps_of(viewer).items():
        try:
            releases[agreement_id] = checked_overlap(stored, reads.signing_key)
        except DataLoss as exc:  # ranked without it, and said why
            tampered[agreement_id] = str(exc)
    ranked, unavailable = [], []
    pops_mine: dict[str, None] = {}
    pops_theirs: dict[str, None] = {}
    for a in reads.agreements(party=viewer):
        partner = a.partner_of(viewer)
        base = {"partner": partner, "agreement_id": a.agreement_id}
        release = releases.get(a.agreement_id)
        if a.state == "revoked":
            unavailable.append({**base, "reason": "agreement revoked"})
            continue
        if a.agreement_id in tampered:
            unavailable.append({**base, "reason": tampered[a.agreement_id]})
            continue
        if release is None:
            latest = reads.latest_complete_run(a.agreement_id)
            reason = f"run {latest} complete, not released to {viewer} yet" if latest else "no overlap run completed"
            unavailable.append({**base, "reason": reason})
            continue
        for c in release.get("cells", []):
            pops_mine.setdefault(c["mine"])
            pops_theirs.setdefault(c["theirs"])
        found = _count(release, mine, theirs, partner)
        if isinstance(found, str):
            unavailable.append({**base, "reason": found})
        else:
            ranked.append(_ranked(base, release, *found))
    ranked.sort(key=lambda r: (r["suppressed"], -(r["count"] or 0), r["partner"], r["agreement_id"]))
    for i, r in enumerate(ranked, 1):
        r["rank"] = i
    return {
        "viewer": viewer,
        "mine": mine,
        "theirs": theirs,
        "partners": ranked,
        "unavailable": unavailable,
        "populations": {"mine": sorted(pops_mine), "theirs": sorted(pops_theirs)},
    }
