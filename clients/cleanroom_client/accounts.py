"""From a CRM export to deduplicated accounts with canonical match keys.

Each data row yields at most one account candidate: its canonical domain (the
first usable domain-like column, in columns.DOMAIN_COLUMNS order), optionally
its name + country key, and its population from the CRM stage. Rows that
share any key are the same account (union-find), so duplicates merge and their
populations add up. Rows that yield no key are reported with the reason,
never silently dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cleanroom.errors import InputError
from cleanroom_client.columns import ColumnMap, resolve_columns
from cleanroom_client.keys.domain import DomainRejected, canonical_domain
from cleanroom_client.keys.names import name_key as make_name_key
from cleanroom_client.populations import StageMap, valid_population
from cleanroom_client.readers import Row, read_table

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


@dataclass(frozen=True, order=True)
class MatchKey:
    kind: str  # "domain" or "name"
    value: str  # canonical, e.g. "acme.co.uk" or "acme|gb"

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass
class Account:
    rows: tuple[int, ...]  # 1-based data rows, ascending
    keys: tuple[MatchKey, ...]  # sorted
    populations: tuple[str, ...]  # sorted
    name: str | None
    domain: str | None
    fields: dict[str, str] = field(repr=False, default_factory=dict)  # the first row's non-empty raw cells


@dataclass(frozen=True)
class Rejected:
    row: int
    reason: str


@dataclass
class LoadResult:
    source: Path
    accounts: list[Account]
    rejected: list[Rejected]
    rows_read: int
    columns: ColumnMap

    def totals(self) -> dict[str, object]:
        by_population = Counter(p for a in self.accounts for p in a.populations)
        return {
            "rows": self.rows_read,
            "accounts": len(self.accounts),
            "rejected": len(self.rejected),
            # rows that became part of an account already started by an earlier row
            "duplicates_merged": self.rows_read - len(self.rejected) - len(self.accounts),
            "by_population": dict(sorted(by_population.items())),
        }


@dataclass
class _Candidate:
    row: int
    keys: list[MatchKey]
    population: str
    name: str | None
    domain: str | None
    cells: Row


def _cell(row: Row, index: int | None) -> str | None:
    if index is None or index >= len(row) or row[index] is None:
        return None
    return row[index].strip() or None


def _domain_of(row: Row, columns: ColumnMap) -> tuple[str | None, str]:
    """(canonical domain, "") or (None, reason) from the first non-empty usable key cell."""
    first: tuple[str, str, str] | None = None  # (reason code, column, value) of the most telling bad cell
    for index in columns.key_columns:
        value = _cell(row, index)
        if value is None:
            continue
        try:
            return canonical_domain(value), ""
        except DomainRejected as exc:
            if first is None or first[0] == "empty":  # "n/a" says less than "gmail.com"
                first = (exc.reason, columns.names[index], value)
    if first is None:
        return None, REASONS["empty"]
    code, column, value = first
    # A specific cell is at fault: name the column and quote the value (the user's own data, shown locally).
    return None, f"{REASONS.get(code, code)} (column {column!r}: {value!r})"


class _Groups:
    """Union-find over row candidates, keyed by match key."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.by_key: dict[MatchKey, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def add(self, keys: list[MatchKey]) -> int:
        node = len(self.parent)
        self.parent.append(node)
        for key in keys:
            other = self.by_key.setdefault(key, node)
            if other != node:
                a, b = self.find(other), self.find(node)
                if a != b:
                    self.parent[max(a, b)] = min(a, b)  # the earliest row stays the representative
        return node


def _merge(candidates: list[_Candidate], groups: _Groups, names: tuple[str, ...]) -> list[Account]:
    merged: dict[int, list[_Candidate]] = {}
    for node, cand in enumerate(candidates):
        merged.setdefault(groups.find(node), []).append(cand)
    accounts = []
    for members in merged.values():
        first = members[0]
        accounts.append(
            Account(
                rows=tuple(m.row for m in members),
                keys=tuple(sorted({k for m in members for k in m.keys})),
                populations=tuple(sorted({m.population for m in members})),
                name=next((m.name for m in members if m.name), None),
                domain=next((m.domain for m in members if m.domain), None),
                fields={c: v for c, v in zip(names, first.cells) if v not in (None, "")},
            )
        )
    accounts.sort(key=lambda a: a.rows[0])
    return accounts


def load_accounts(
    path: Path | str,
    *,
    key_column: str | None = None,
    name_column: str | None = None,
    population_column: str | None = None,
    country_column: str | None = None,
    population_map: Path | str | None = None,
    default_population: str = "customer",
    name_key: bool = False,
) -> LoadResult:
    """Read ``path`` and return its deduplicated accounts and the rows rejected (with reasons).

    ``name_key`` adds the "name|cc" key for rows with a company name; without
    it only the canonical domain is a key. With no population column, every
    account is in ``default_population``.
    """
    if not valid_population(default_population):
        raise InputError(f"default population {default_population!r} must be a lower-case word like 'customer'")
    stages = StageMap.load(Path(population_map) if population_map is not None else None)
    table = read_table(Path(path))
    columns = resolve_columns(
        table.columns, str(table.path), key_column, name_column, population_column, country_column, require_key=not name_key
    )
    rejected: list[Rejected] = []
    candidates: list[_Candidate] = []
    groups = _Groups()
    for number, row in enumerate(table.rows, start=1):
        domain, reason = _domain_of(row, columns) if columns.key_columns else (None, REASONS["empty"])
        name = _cell(row, columns.name_column)
        keys = [MatchKey("domain", domain)] if domain else []
        if name_key and name:
            key = make_name_key(name, _cell(row, columns.country_column))
            if key:
                keys.append(MatchKey("name", key))
        if not keys:
            rejected.append(Rejected(number, reason))
            continue
        if columns.population_column is not None:
            stage = _cell(row, columns.population_column)
            population = stages.population(stage)
            if population is None:
                rejected.append(Rejected(number, stages.unmapped_reason(stage, columns.names[columns.population_column])))
                continue
        else:
            population = default_population
        groups.add(keys)
        candidates.append(_Candidate(number, keys, population, name, domain, row))
    accounts = _merge(candidates, groups, columns.names)
    return LoadResult(table.path, accounts, rejected, len(table.rows), columns)
