"""One row of any CRM file -> its match keys (or the reason it has none).

Accounts, deals and touches files all go through ``row_keys``, so an account,
a deal and a touch of one company get the same keys and meet in the join:
the canonical domain of the first usable domain-like cell (columns in
headers.KEY_HEADERS order), plus, when asked, the company name + country key.
A row without a key is never silently dropped: the caller reports it with the
reason given here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cleanroom_client.inputs.headers import (
    COUNTRY_HEADERS,
    KEY_HEADERS,
    NAME_HEADERS,
    MissingColumn,
    find_column,
    key_columns,
    looked_for,
)
from cleanroom_client.inputs.keys.domain import DomainRejected, canonical_domain
from cleanroom_client.inputs.keys.names import name_key as make_name_key
from cleanroom_client.inputs.readers import Row

# Reason code (keys.domain.REASON_CODES) -> the words a person reads.
REASONS = {
    "empty": "empty key: no website, domain or e-mail",
    "freemail": "free-mail only",
    "disposable": "disposable e-mail domain only",
    "unparseable": "unparseable URL or domain",
    "ip_address": "IP address instead of a domain",
    "localhost": "local host name, not a company domain",
    "public_suffix": "a bare public suffix, not a company domain",
    "no_public_suffix": "no public suffix (not a registrable domain)",
}


@dataclass(frozen=True, order=True, slots=True)
class MatchKey:
    kind: str  # "domain" or "name"
    value: str  # canonical, e.g. "acme.co.uk" or "acme|gb"

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class Rejected:
    row: int
    reason: str


@dataclass(frozen=True)
class KeyColumns:
    """Where a file's keys are: domain-like columns (precedence order), the name and country columns."""

    names: Sequence[str]  # every column's name, as in the file
    keys: tuple[int, ...]
    name: int | None
    country: int | None


def cell(row: Row, index: int | None) -> str | None:
    """The cell's text without surrounding spaces; None when absent or blank."""
    if index is None or index >= len(row):
        return None
    value = row[index]
    return None if value is None else value.strip() or None


def row_keys(row: Row, columns: KeyColumns, name_key: bool) -> tuple[tuple[MatchKey, ...], str]:
    """(keys, "") or ((), reason): the canonical domain of the first usable key cell, plus the name key if asked."""
    found: list[MatchKey] = []
    first: tuple[str, str, str] | None = None  # (reason code, column, value) of the most telling bad cell
    for index in columns.keys:
        value = cell(row, index)
        if value is None:
            continue
        try:
            found.append(MatchKey("domain", canonical_domain(value)))
            break
        except DomainRejected as exc:
            if first is None or first[0] == "empty":  # "n/a" says less than "gmail.com"
                first = (exc.reason, columns.names[index], value)
    if name_key:
        name = cell(row, columns.name)
        key = make_name_key(name, cell(row, columns.country)) if name else None
        if key:
            found.append(MatchKey("name", key))
    if found:
        return tuple(found), ""
    if first is None:
        return (), REASONS["empty"]
    code, column, value = first
    # A specific cell is at fault: name the column and quote the value (the user's own data, shown locally).
    return (), f"{REASONS.get(code, code)} (column {column!r}: {value!r})"


def domain_of(keys: tuple[MatchKey, ...]) -> str | None:
    """The canonical domain among a row's keys (row_keys puts it first), if any."""
    return keys[0].value if keys and keys[0].kind == "domain" else None


def account_columns(
    columns: Sequence[str],
    source: str,
    *,
    key_column: str | None,
    name_column: str | None,
    country_column: str | None,
    name_key: bool,
) -> KeyColumns:
    """Where a deals or touches file names each row's account; MissingColumn when nothing can key it."""
    name = find_column(columns, source, name_column, NAME_HEADERS, "account name")
    country = find_column(columns, source, country_column, COUNTRY_HEADERS, "country")
    keys = key_columns(columns, source, key_column)
    if not keys and not (name_key and name is not None):
        raise MissingColumn(
            f"{source}: no website/domain column for the account (looked for {looked_for(KEY_HEADERS)}); "
            f"columns found: {', '.join(columns)}; name it with --key-column"
        )
    return KeyColumns(tuple(columns), keys, name, country)
