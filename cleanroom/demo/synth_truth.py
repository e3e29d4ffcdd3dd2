"""The attribution generator's ground truth: each deal, its true touches, and what was written where.

Written next to the generated files as ground_truth.json, and read back by the demo's checks and the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True)
class TruthTouch:
    partner: str
    role: str
    day: date
    row: int  # 1-based data row in that partner's touches file

    def to_json(self) -> dict:
        return {"partner": self.partner, "role": self.role, "date": self.day.isoformat(), "row": self.row}


@dataclass(frozen=True)
class TruthDeal:
    deal_id: str
    row: int  # 1-based data row in the deals file
    company: int  # the generator's company index: deals with one index are one true account
    domain: str  # the company's canonical domain (what every usable spelling canonicalises to)
    amount: Decimal
    currency: str
    outcome: str
    stage: str  # as written
    deal_type: str
    created: date
    closed: date | None
    matchable: bool  # False: the row's key is unusable, so no partner can match it
    touches: tuple[TruthTouch, ...]  # sorted by (date, partner, row); () when not matchable

    def to_json(self) -> dict:
        return {
            "deal_id": self.deal_id,
            "row": self.row,
            "company": self.company,
            "domain": self.domain,
            "amount": str(self.amount),
            "currency": self.currency,
            "outcome": self.outcome,
            "stage": self.stage,
            "type": self.deal_type,
            "created": self.created.isoformat(),
            "closed": None if self.closed is None else self.closed.isoformat(),
            "matchable": self.matchable,
            "touches": [t.to_json() for t in self.touches],
        }

    @classmethod
    def from_json(cls, d: dict) -> TruthDeal:
        return cls(
            d["deal_id"],
            d["row"],
            d["company"],
            d["domain"],
            Decimal(d["amount"]),
            d["currency"],
            d["outcome"],
            d["stage"],
            d["type"],
            date.fromisoformat(d["created"]),
            None if d["closed"] is None else date.fromisoformat(d["closed"]),
            d["matchable"],
            tuple(TruthTouch(t["partner"], t["role"], date.fromisoformat(t["date"]), t["row"]) for t in d["touches"]),
        )


@dataclass
class AttributionTruth:
    seed: int
    as_of: date
    style: str  # "salesforce" or "hubspot"
    partners: tuple[str, ...]
    paths: dict[str, str]  # "deals", each partner's name, "ground_truth"
    deals: list[TruthDeal]
    touch_rows: dict[str, int]  # per partner: rows written
    rejected_touch_rows: dict[str, int]  # per partner: rows with no usable key
    off_deal_touches: dict[str, int]  # per partner: usable touches on companies without a deal
    lookalike_touches: dict[str, int] = field(default_factory=dict)  # of those, on a look-alike of a deal company

    def summary(self) -> dict:
        """Everything but the per-deal list."""
        return {
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "style": self.style,
            "partners": list(self.partners),
            "paths": dict(self.paths),
            "deal_rows": len(self.deals),
            "keyless_deals": sum(not d.matchable for d in self.deals),
            "accounts": len({d.company for d in self.deals}),
            "true_touches": self.true_touch_rows(),
            "touch_rows": dict(self.touch_rows),
            "rejected_touch_rows": dict(self.rejected_touch_rows),
            "off_deal_touches": dict(self.off_deal_touches),
            "lookalike_touches": dict(self.lookalike_touches),
        }

    def true_touch_rows(self) -> dict[str, int]:
        """Per partner: touch rows that are true touches of at least one deal."""
        rows: dict[str, set[int]] = {p: set() for p in self.partners}
        for d in self.deals:
            for t in d.touches:
                rows[t.partner].add(t.row)
        return {p: len(r) for p, r in rows.items()}

    def to_json(self) -> dict:
        return {**self.summary(), "deals": [d.to_json() for d in self.deals]}

    def write_json(self, path: Path | str) -> None:
        """Streamed: one deal at a time, so 100,000 deals with their touches stay cheap."""
        head = json.dumps(self.summary())[:-1]
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(head + ', "deals": [\n')
            for i, d in enumerate(self.deals):
                fh.write(("" if i == 0 else ",\n") + json.dumps(d.to_json(), separators=(",", ":")))
            fh.write("\n]}\n")

    @classmethod
    def load(cls, path: Path | str) -> AttributionTruth:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            data["seed"],
            date.fromisoformat(data["as_of"]),
            data["style"],
            tuple(data["partners"]),
            data["paths"],
            [TruthDeal.from_json(d) for d in data["deals"]],
            data["touch_rows"],
            data["rejected_touch_rows"],
            data["off_deal_touches"],
            data.get("lookalike_touches", {}),
        )
