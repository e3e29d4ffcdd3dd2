"""Which column of an accounts file holds the domain, name, stage and country.

The columns are recognised with the header vocabulary every file kind shares
(headers.py); explicit column names always win. An opportunity report or deal
export given as an accounts file (headers.DEAL_MARKERS) takes each account's
population from the deal stage instead of the deal's "Type".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cleanroom_client.inputs.headers import (
    COUNTRY_HEADERS,
    DEAL_MARKERS,
    KEY_HEADERS,
    NAME_HEADERS,
    POPULATION_HEADERS,
    STAGE_HEADERS,
    MissingColumn,
    column_name,
    find_column,
    has_any,
    key_columns,
    looked_for,
)
from cleanroom_client.inputs.rowkeys import KeyColumns


@dataclass(frozen=True)
class ColumnMap:
    key_columns: tuple[int, ...]  # indexes, in precedence order
    name_column: int | None
    population_column: int | None
    country_column: int | None
    names: tuple[str, ...] = field(default=())
    deal_stages: bool = False  # the population column holds deal stages (an opportunity/deal export)

    def describe(self) -> dict[str, object]:
        return {
            "key": [self.names[i] for i in self.key_columns],
            "name": column_name(self.names, self.name_column),
            "population": column_name(self.names, self.population_column),
            "country": column_name(self.names, self.country_column),
            **({"population_from": "deal stage"} if self.deal_stages else {}),
        }

    def keys(self) -> KeyColumns:
        """Where row_keys finds each row's keys."""
        return KeyColumns(self.names, self.key_columns, self.name_column, self.country_column)


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
    keys = key_columns(columns, source, key_column, "key")
    name_index = find_column(columns, source, name_column, NAME_HEADERS, "company name")
    if not keys and (require_key or name_index is None):
        raise MissingColumn(
            f"{source}: no website/domain/e-mail column found (looked for {looked_for(KEY_HEADERS)}); "
            f"columns found: {', '.join(columns)}; name one with --key-column"
        )
    deal_stage = None
    if population_column is None and has_any(columns, DEAL_MARKERS):
        deal_stage = find_column(columns, source, None, STAGE_HEADERS, "deal stage")
    population = deal_stage
    if population is None:
        population = find_column(columns, source, population_column, POPULATION_HEADERS, "population/stage")
    return ColumnMap(
        key_columns=keys,
        name_column=name_index,
        population_column=population,
        country_column=find_column(columns, source, country_column, COUNTRY_HEADERS, "country"),
        names=tuple(columns),
        deal_stages=deal_stage is not None,
    )


def no_population_column(source: str, columns: list[str]) -> MissingColumn:
    """A file without a stage column: refused, since every account would land in one population unasked."""
    return MissingColumn(
        f"{source}: no stage/population column (looked for {looked_for(POPULATION_HEADERS)}); "
        f"columns found: {', '.join(columns)}; name it with --population-column, or put every account "
        "in one population with --default-population (for example --default-population prospect)"
    )
