"""Recognising CRM export headers: which column holds the domain, name, stage, country.

Salesforce account reports ("Website", "Account Name", "Type", "Billing
Country") and HubSpot company exports ("Company Domain Name", "Website URL",
"Company name", "Lifecycle Stage", "Country/Region") are recognised; explicit
column names always win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cleanroom.errors import InputError

# Domain-like columns in precedence order: per row, the first non-empty usable value wins.
# A curated domain (HubSpot "Company Domain Name", a generic "Domain") beats a
# website URL, which beats a person's e-mail address (often free-mail).
DOMAIN_COLUMNS = (
    "company domain name", "domain", "website", "website url", "company website", "url",
    "email", "e-mail", "email address",
)
NAME_COLUMNS = ("account name", "company name", "company", "name", "organization", "organisation")
POPULATION_COLUMNS = ("type", "lifecycle stage", "account type", "stage", "population", "segment")
# An opportunity report or deal export: one row per deal, whose "Type" is the deal's (New Business,
# Renewal), not the account's; its accounts take their population from the deal stage instead.
DEAL_MARKERS = ("opportunity id", "opportunity name", "deal id", "record id", "deal name", "close date")
DEAL_STAGE_COLUMNS = ("stage", "deal stage", "opportunity stage")
COUNTRY_COLUMNS = ("billing country", "country/region", "country", "shipping country", "hq country")


def _norm(header: str) -> str:
    """Case, spacing, '_' and '-' do not matter: "Company_Domain_Name" == "company domain name"."""
    return re.sub(r"[\s_\-\ufeff]+", "", (header or "").casefold())


@dataclass(frozen=True)
class ColumnMap:
    key_columns: tuple[int, ...]  # indexes, in precedence order
    name_column: int | None
    population_column: int | None
    country_column: int | None
    names: tuple[str, ...] = field(default=())
    deal_stages: bool = False  # the population column holds deal stages (an opportunity/deal export)

    def describe(self) -> dict[str, object]:
        pick = lambda i: None if i is None else self.names[i]  # noqa: E731
        return {
            "key": [self.names[i] for i in self.key_columns],
            "name": pick(self.name_column),
            "population": pick(self.population_column),
            "country": pick(self.country_column),
            **({"population_from": "deal stage"} if self.deal_stages else {}),
        }


def _find(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, source: str) -> int | None:
    normalised = [_norm(c) for c in columns]
    if wanted is not None:  # explicit: must exist, exact up to case and spacing
        if _norm(wanted) not in normalised:
            raise InputError(f"{source}: no column {wanted!r} for the {role}; columns found: {', '.join(columns)}")
        return normalised.index(_norm(wanted))
    for candidate in map(_norm, candidates):
        if candidate in normalised:
            return normalised.index(candidate)
    return None


def resolve_columns(
    columns: list[str],
    source: str,
    key_column: str | None = None,
    name_column: str | None = None,
    population_column: str | None = None,
    country_column: str | None = None,
    require_key: bool = True,
) -> ColumnMap:
    """Indexes of the key, name, population and country columns; explicit names win.

    ``require_key=False`` (the name + country key is on and a name column
    exists) lets a file without any domain-like column through.
    """
    normalised = [_norm(c) for c in columns]
    if key_column is not None:
        keys = (_find(columns, key_column, (), "key", source),)
    else:
        keys = tuple(dict.fromkeys(normalised.index(c) for c in map(_norm, DOMAIN_COLUMNS) if c in normalised))
    name_index = _find(columns, name_column, NAME_COLUMNS, "company name", source)
    if not keys and (require_key or name_index is None):
        raise InputError(
            f"{source}: no website/domain/e-mail column found (looked for {', '.join(repr(c) for c in DOMAIN_COLUMNS[:5])}, ...); "
            f"columns found: {', '.join(columns)}; name one with --key-column"
        )
    deal_stage = None
    if population_column is None and any(_norm(m) in normalised for m in DEAL_MARKERS):
        deal_stage = _find(columns, None, DEAL_STAGE_COLUMNS, "deal stage", source)
    return ColumnMap(
        key_columns=keys,
        name_column=name_index,
        population_column=deal_stage if deal_stage is not None else _find(columns, population_column, POPULATION_COLUMNS, "population/stage", source),
        country_column=_find(columns, country_column, COUNTRY_COLUMNS, "country", source),
        names=tuple(columns),
        deal_stages=deal_stage is not None,
    )
