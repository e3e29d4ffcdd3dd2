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

# Domain-like columns in precedence order: per row, the first usable value wins.
DOMAIN_COLUMNS = ("company domain name", "domain", "website", "website url", "company website", "url", "email", "e-mail", "email address")
NAME_COLUMNS = ("account name", "company name", "company", "name", "organization", "organisation")
POPULATION_COLUMNS = ("type", "lifecycle stage", "account type", "stage", "population", "segment")
COUNTRY_COLUMNS = ("billing country", "country/region", "country", "shipping country", "hq country")


def _norm(header: str) -> str:
    return re.sub(r"\s+", " ", (header or "").strip().lower())


@dataclass(frozen=True)
class ColumnMap:
    key_columns: tuple[int, ...]  # indexes, in precedence order
    name_column: int | None
    population_column: int | None
    country_column: int | None
    names: tuple[str, ...] = field(default=())

    def describe(self) -> dict[str, object]:
        pick = lambda i: None if i is None else self.names[i]  # noqa: E731
        return {
            "key": [self.names[i] for i in self.key_columns],
            "name": pick(self.name_column),
            "population": pick(self.population_column),
            "country": pick(self.country_column),
        }


def _find(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, source: str) -> int | None:
    normalised = [_norm(c) for c in columns]
    if wanted is not None:
        if _norm(wanted) not in normalised:
            raise InputError(f"{source}: no column {wanted!r} for the {role}; columns found: {', '.join(columns)}")
        return normalised.index(_norm(wanted))
    for candidate in candidates:
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
) -> ColumnMap:
    normalised = [_norm(c) for c in columns]
    if key_column is not None:
        keys = (_find(columns, key_column, (), "key", source),)
    else:
        keys = tuple(normalised.index(c) for c in DOMAIN_COLUMNS if c in normalised)
    if not keys:
        raise InputError(
            f"{source}: no website/domain/e-mail column found (looked for {', '.join(repr(c) for c in DOMAIN_COLUMNS[:5])}, ...); "
            f"columns found: {', '.join(columns)}; name one with --key-column"
        )
    return ColumnMap(
        key_columns=keys,
        name_column=_find(columns, name_column, NAME_COLUMNS, "company name", source),
        population_column=_find(columns, population_column, POPULATION_COLUMNS, "population/stage", source),
        country_column=_find(columns, country_column, COUNTRY_COLUMNS, "country", source),
        names=tuple(columns),
    )
