"""Co-sell targets: accounts revealed to us, joined back to our own rows, ranked.

Each target is one of OUR accounts that one partner also has on a population
pair the agreement reveals, with that partner's populations there and the
columns it shares. The score (0 to 100) is a weighted mean of five parts,
each in [0, 1]:

    deal_size           log(1 + our amount) / log(1 + the largest amount among the targets);
                        our amount is the first non-empty of ``amount_columns`` in our row (0 if none)
    stage               value of our best population: opportunity 1.0, prospect 0.6, customer 0.4
                        (expansion), any other 0.5
    partner_population  value of the partner's best population: customer 1.0 (it can introduce us),
                        opportunity 0.8, prospect 0.4, any other 0.5
    engagement          0.5 ** (days since the partner's last activity / 90): recent partner activity
                        on the account; 0 when the partner shares no such column or it is empty
    depth               1 - 0.5 ** (partners - 1): how many of our partners have the account
                        (0 for one, 0.5 for two, 0.75 for three)

    score = 100 * sum(weight * part) / sum(weight)

with default weights deal_size 0.30, stage 0.20, partner_population 0.25,
engagement 0.15, depth 0.10. Every number above is configurable with a JSON
file (``targets --scoring FILE``; see ``ScoringConfig``). Ties are broken by
account name, then partner.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cleanroom.errors import InputError
from cleanroom.terms import column_norm
from cleanroom_client.features.reveal import Revealed
from cleanroom_client.inputs.amounts import AmountError, parse_amount
from cleanroom_client.inputs.cells import CellError
from cleanroom_client.inputs.dates import DateReader

PARTS = ("deal_size", "stage", "partner_population", "engagement", "depth")
DEFAULT_WEIGHTS = {"deal_size": 0.30, "stage": 0.20, "partner_population": 0.25, "engagement": 0.15, "depth": 0.10}
AMOUNT_COLUMNS = (
    "Open Opportunity Amount",
    "Opportunity Amount",
    "Open Pipeline",
    "Pipeline",
    "Amount",
    "Deal Size",
    "Deal Amount",
    "ARR",
    "Annual Revenue",
)
ENGAGEMENT_COLUMNS = (
    "Last Activity",
    "Last Activity Date",
    "Last Engagement Date",
    "Last Contacted",
    "Last Contacted Date",
    "Recent Activity Date",
    "Last Modified Date",
    "Last Modified",
)
ID_COLUMNS = ("Account ID", "Account Id", "Record ID", "Company ID", "Id", "ID")


@dataclass(frozen=True)
class ScoringConfig:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    stage_values: dict[str, float] = field(default_factory=lambda: {"opportunity": 1.0, "prospect": 0.6, "customer": 0.4})
    partner_population_values: dict[str, float] = field(
        default_factory=lambda: {"customer": 1.0, "opportunity": 0.8, "prospect": 0.4}
    )
    other_population_value: float = 0.5
    engagement_half_life_days: float = 90.0
    amount_columns: tuple[str, ...] = AMOUNT_COLUMNS
    engagement_columns: tuple[str, ...] = ENGAGEMENT_COLUMNS

    @classmethod
    def load(cls, path: Path | None) -> ScoringConfig:
        """The defaults, with what the JSON object in ``path`` sets on top."""
        config = cls()
        if path is None:
            return config
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read the scoring settings ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: scoring settings must be a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{path}: unknown scoring setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        changes: dict[str, Any] = {}
        for name in ("weights", "stage_values", "partner_population_values"):
            if name in data:
                value = data[name]
                if not isinstance(value, dict) or not all(_number(v) and v >= 0 for v in value.values()):
                    raise InputError(f"{path}: {name} must map names to non-negative numbers")
                changes[name] = {**getattr(config, name), **value} if name != "weights" else {**DEFAULT_WEIGHTS, **value}
        if "weights" in changes:
            bad = sorted(set(changes["weights"]) - set(PARTS))
            if bad:
                raise InputError(f"{path}: unknown weight {bad[0]!r}; the parts are {', '.join(PARTS)}")
            if not sum(changes["weights"].values()) > 0:
                raise InputError(f"{path}: the weights must not all be 0")
        for name in ("other_population_value", "engagement_half_life_days"):
            if name in data:
                if not _number(data[name]) or data[name] < 0 or (name == "engagement_half_life_days" and data[name] == 0):
                    raise InputError(f"{path}: {name} must be a positive number")
                changes[name] = float(data[name])
        for name in ("amount_columns", "engagement_columns"):
            if name in data:
                if not isinstance(data[name], list) or not all(isinstance(c, str) and c for c in data[name]):
                    raise InputError(f"{path}: {name} must be a list of column names")
                changes[name] = tuple(data[name])
        return replace(config, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _first(fields: dict[str, Any], candidates: tuple[str, ...]) -> tuple[str | None, Any]:
    """(column, value) of the first candidate column with a non-empty value (headers compared loosely)."""
    by_norm = {column_norm(k): k for k in fields}
    for candidate in candidates:
        key = by_norm.get(column_norm(candidate))
        if key is not None and fields[key] not in (None, ""):
            return key, fields[key]
    return None, None


def amount_of(fields: dict[str, Any], config: ScoringConfig) -> float | None:
    """Our own amount for the account, as a float; None when no amount column has a usable value."""
    _, raw = _first(fields, config.amount_columns)
    if raw is None:
        return None
    try:
        return float(parse_amount(str(raw)).value)
    except AmountError:
        return None


def _dates(values: list[str]) -> DateReader:
    reader = DateReader("partner fields")
    try:
        reader.settle([("last activity", enumerate(values, 1))])
    except CellError:  # both orders occur: read slashed dates month-first
        reader.day_first = False
    return reader


def build_targets(
    revealed: list[Revealed], config: ScoringConfig | None = None, as_of: dt.date | None = None
) -> list[dict[str, Any]]:
    """Every (our account, partner) pair revealed to us, scored and ranked best first."""
    config = config or ScoringConfig()
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    rows = [(r, row) for r in revealed for row in r.rows]
    partners_of: dict[str, set[str]] = {}
    for r, row in rows:
        partners_of.setdefault(_identity(row["account"]), set()).add(r.partner)
    amounts = [amount_of(row["account"]["fields"], config) for _, row in rows]
    top = max((a for a in amounts if a), default=0.0)
    engagement_raw = [_first(row["partner_fields"], config.engagement_columns)[1] for _, row in rows]
    dates = _dates([v for v in engagement_raw if isinstance(v, str)])
    weights = {p: float(config.weights.get(p, 0.0)) for p in PARTS}
    total_weight = sum(weights.values()) or 1.0
    targets = []
    for (r, row), amount, last in zip(rows, amounts, engagement_raw, strict=True):
        account = row["account"]
        partners = sorted(partners_of[_identity(account)])
        last_day = dates.parse(last) if isinstance(last, str) else None
        days = None if last_day is None else max(0, (as_of - last_day).days)
        parts = {
            "deal_size": math.log1p(amount) / math.log1p(top) if amount and top > 0 else 0.0,
            "stage": max(
                (config.stage_values.get(p, config.other_population_value) for p in account["populations"]), default=0.0
            ),
            "partner_population": max(
                (config.partner_population_values.get(p, config.other_population_value) for p in row["partner_populations"]),
                default=0.0,
            ),
            "engagement": 0.0 if days is None else 0.5 ** (days / config.engagement_half_life_days),
            "depth": 1 - 0.5 ** (len(partners) - 1),
        }
        score = 100 * sum(weights[p] * parts[p] for p in PARTS) / total_weight
        targets.append(
            {
                "account": account["name"] or account["domain"] or "",
                "domain": account["domain"] or "",
                "partner": r.partner,
                "my_populations": list(account["populations"]),
                "partner_populations": list(row["partner_populations"]),
                "partner_fields": dict(row["partner_fields"]),
                "score": round(score, 2),
                "my_stage": account.get("stage"),
                "my_amount": amount,
                "account_id": _first(account["fields"], ID_COLUMNS)[1],
                "partners_overlapping": partners,
                "partner_last_activity": last_day.isoformat() if last_day else None,
                "score_parts": {p: round(v, 4) for p, v in parts.items()},
                "agreement_id": r.agreement_id,
                "run_id": r.run_id,
            }
        )
    targets.sort(key=lambda t: (-t["score"], t["account"].casefold(), t["partner"]))
    for rank, t in enumerate(targets, 1):
        t["rank"] = rank
    return targets


def _identity(account: dict[str, Any]) -> str:
    """One of our companies across agreements (labels differ per run): its canonical domain, else its keys."""
    return (
        f"domain:{account['domain']}" if account.get("domain") else "|".join(account.get("keys", [])) or str(account.get("name"))
    )


# -- export ------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run: text starting like a formula gets a leading apostrophe
    (partner-supplied values are untrusted input on our machine)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_columns(targets: list[dict[str, Any]]) -> list[str]:
    shared = list(dict.fromkeys(col for t in targets for col in t["partner_fields"]))
    return [
        "Rank",
        "Score",
        "Account ID",
        "Account Name",
        "Domain",
        "My Stage",
        "My Populations",
        "My Amount",
        "Partner",
        "Partner Populations",
        "Partners Overlapping",
        *[f"Partner {c}" for c in shared],
        "Agreement",
    ]


def csv_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    shared = list(dict.fromkeys(col for t in targets for col in t["partner_fields"]))
    rows = []
    for t in targets:
        amount = t["my_amount"]
        rows.append(
            [
                _cell(x)
                for x in (
                    t["rank"],
                    f"{t['score']:.2f}",
                    t["account_id"],
                    t["account"],
                    t["domain"],
                    t["my_stage"],
                    "; ".join(t["my_populations"]),
                    "" if amount is None else f"{amount:.2f}",
                    t["partner"],
                    "; ".join(t["partner_populations"]),
                    "; ".join(t["partners_overlapping"]),
                    *[t["partner_fields"].get(c) for c in shared],
                    t["agreement_id"],
                )
            ]
        )
    return rows


def write_csv(targets: list[dict[str, Any]], path: Path) -> None:
    """A CRM-importable file: one row per (account, partner), best first, UTF-8 with a BOM for spreadsheets."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(csv_columns(targets))
        writer.writerows(csv_rows(targets))


def ranked(
    revealed: list[Revealed],
    config: ScoringConfig,
    as_of: dt.date | None = None,
    agreement: str | None = None,
    partner: str | None = None,
) -> list[dict[str, Any]]:
    """The targets, best first, of one agreement or partner when named; each with its ``rank`` (from 1)."""
    targets = build_targets(revealed, config, as_of)
    if agreement:
        targets = [t for t in targets if t["agreement_id"] == agreement]
    if partner:
        targets = [t for t in targets if t["partner"] == partner]
    for rank, t in enumerate(targets, 1):
        t["rank"] = rank
    return targets
