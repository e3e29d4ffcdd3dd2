"""What one party's auditor may see of the releases made to the other party: the redaction policy.

A vendor's attribution release covers every partner of the job (each
partner's credit, single deals' credit, metrics over all of them), and is
stored under each partner's agreement. A partner's auditor sees only the row
about its own party and how many deals were credited: a partner never learns
another partner's figures or a single deal's amount. Overlap releases are the
same numbers both sides got (transposed) and stay whole; other kinds show
that they happened, not what they held. Admins see reports unredacted.
"""

from __future__ import annotations

from typing import Any

WITHHELD_ATTRIBUTION = "other partners' figures, single deals' credit and the vendor's ecosystem metrics"


def _redacted(kind: str, released: dict[str, Any], party: str, viewer: str) -> dict[str, Any] | None:
    """The redacted content of one release to ``viewer`` as ``party`` may see it; None to keep it whole."""
    if kind == "overlap":
        return None
    if kind == "attribution":
        if "partners" not in released:
            return None  # a partner's own release: the figures the vendor's release shows it anyway
        kept: dict[str, Any] = {"partners": [r for r in released["partners"] if r.get("partner") == party]}
        if "deals" in released:
            kept["deal_count"] = len(released["deals"])
        kept["withheld"] = WITHHELD_ATTRIBUTION
        return kept
    return {"withheld": f"the content of {kind} releases made to {viewer}"}


def redact_report(report: dict[str, Any], party: str) -> dict[str, Any]:
    """A disclosure report as ``party``'s auditor may read it (changed in place, and returned)."""
    for viewer in report["viewers"]:
        if viewer["viewer"] == party:
            continue
        for release in viewer["releases"]:
            redacted = _redacted(release["kind"], release["released"], party, viewer["viewer"])
            if redacted is not None:
                release["released"] = redacted
    return report
