"""Coded cell values -> our codes: deal stages (won/lost/open), deal types, partner roles.

Values are compared with case, spaces and punctuation ignored (headers.norm),
so HubSpot's internal "closedwon" and Salesforce's "Closed Won" are one stage,
and "Co_Selling" is "Co-selling". A map (a mapping, or a JSON file of one:
mapfile.load_map) adds or overrides values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cleanroom.errors import InputError
from cleanroom_client.inputs.headers import norm

STAGES: dict[str, str] = {
    # Salesforce standard opportunity stages
    "Prospecting": "open",
    "Qualification": "open",
    "Needs Analysis": "open",
    "Value Proposition": "open",
    "Id. Decision Makers": "open",
    "Perception Analysis": "open",
    "Proposal/Price Quote": "open",
    "Negotiation/Review": "open",
    "Closed Won": "won",
    "Closed Lost": "lost",
    # HubSpot default sales pipeline (internal values normalise to the same as these labels)
    "Appointment Scheduled": "open",
    "Qualified To Buy": "open",
    "Presentation Scheduled": "open",
    "Decision Maker Bought-In": "open",
    "Contract Sent": "open",
    # plain words and common custom open stages
    "Won": "won",
    "Lost": "lost",
    "Open": "open",
    "Discovery": "open",
    "Proposal": "open",
    "Negotiation": "open",
}
TYPES: dict[str, str] = {
    "New Business": "new",
    "New Customer": "new",
    "New": "new",
    "New Logo": "new",
    "Existing Business": "expansion",
    "Existing Business - Upgrade": "expansion",
    "Existing Business - Upsell": "expansion",
    "Existing Business - Cross-sell": "expansion",
    "Existing Customer - Upgrade": "expansion",
    "Existing Customer - Downgrade": "expansion",
    "Existing Customer - Replacement": "expansion",
    "Expansion": "expansion",
    "Upsell": "expansion",
    "Upgrade": "expansion",
    "Cross-sell": "expansion",
    "Add-on": "expansion",
    "Renewal": "renewal",
    "Existing Business - Renewal": "renewal",
    "Existing Customer - Renewal": "renewal",
}
ROLES: dict[str, str] = {
    "Sourcing": "sourcing",
    "Source": "sourcing",
    "Sourced": "sourcing",
    "Referral": "sourcing",
    "Referred": "sourcing",
    "Partner Sourced": "sourcing",
    "Co-sell": "co-sell",
    "Co-selling": "co-sell",  # also "cosell", "co sell", "Co_Selling": compared normalised
    "Technical": "technical",
    "Tech": "technical",
    "Technical Validation": "technical",
    "Integration": "technical",
    "Influence": "influence",
    "Influenced": "influence",
    "Influencer": "influence",
}


class Lookup:
    """Value -> code with values compared normalised; remembers the labels for messages."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._labels: dict[str, str] = {}  # normalised -> label as written
        self._codes: dict[str, str] = {}  # normalised -> code
        for label, code in entries.items():
            self._labels[norm(label)] = label.strip()
            self._codes[norm(label)] = code
        self._seen: dict[str | None, str | None] = {}  # raw value -> code: a file repeats a handful of values

    def get(self, value: str | None) -> str | None:
        """The code for ``value``, or None when it is empty or unknown."""
        try:
            return self._seen[value]
        except KeyError:
            if len(self._seen) > 4096:  # free text in a coded column: stop remembering
                self._seen.clear()
            found = self._seen[value] = self._codes.get(norm(value))
            return found

    def labels(self) -> list[str]:
        """Every known value, as labelled in the defaults or the map."""
        return sorted(self._labels.values(), key=str.casefold)


class CodeMap(Lookup):
    """Coded cell values -> one of ``allowed``: the defaults, then the extra entries on top."""

    def __init__(
        self,
        what: str,
        defaults: Mapping[str, str],
        allowed: Sequence[str],
        extra: Mapping[str, str] | None = None,
        origin: str = "",
    ) -> None:
        self.what = what
        entries = {**defaults, **(extra or {})}
        for label, code in entries.items():
            if code not in allowed:
                raise InputError(f"{origin or what + ' map'}: {label!r} maps to {code!r}; use one of {', '.join(allowed)}")
            if not norm(label):
                raise InputError(f"{origin or what + ' map'}: empty {what} value {label!r}")
        super().__init__(entries)

    def accepted(self) -> str:
        """The accepted values by code, for a message."""
        by_code: dict[str, list[str]] = {}
        for normalised, label in self._labels.items():
            by_code.setdefault(self._codes[normalised], []).append(label)
        listed = "; ".join(f"{code}: {', '.join(sorted(labels, key=str.casefold))}" for code, labels in by_code.items())
        return listed + "; case, spaces and punctuation ignored"
