"""From a CRM export to deduplicated accounts with canonical match keys.

Each data row yields at most one account candidate: its canonical domain (the
first usable domain-like column), optionally its name + country key, and its
population from the CRM stage. Rows that share any key are the same account
(union-find), so duplicates merge and their populations add up. Rows that
yield no key are reported with the reason, never silently dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cleanroom_client.columns import ColumnMap, resolve_columns
from cleanroom_client.keys.domain import DomainRejected, canonical_domain
from cleanroom_client.keys.names import name_key as make_name_key
from cleanroom_client.populations import StageMap
from cleanroom_client.readers import read_table

REASONS = {
    "empty": "empty key: no website, domain or e-mail",
    "freemail": "free-mail only",
    "disposable": "disposable e-mail domain only",
    "unparseable": "unparseable URL or domain",
    "ip_address": "IP address instead of a domain",
    "public_suffix": "a bare public suffix, not a company domain",
    "no_public_suffix": "no public suffix (not a registrable domain)",
}


@dataclass(frozen=True, order=True)
class MatchKey:
    kind: str  # "domain" or "name"
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass
class Account:
    rows: tuple[int, ...]
    keys: tuple[MatchKey, ...]
    populations: tuple[str, ...]
    name: str | None
    domain: str | None
    values: tuple[str | None, ...] = field(repr=False, default=())  # the first row's raw cells


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

    def fields(self, account: Account) -> dict[str, str]:
        """The account's first row as {column: value}, for local views."""
        return {c: v for c, v in zip(self.columns.names, account.values) if v not in (None, "")}

    def totals(self) -> dict[str, object]:
        by_population = Counter(p for a in self.accounts for p in a.populations)
        return {
            "rows": self.rows_read,
            "accounts": len(self.accounts),
            "rejected": len(self.rejected),
            "duplicates_merged": self.rows_read - len(self.rejected) - len(self.accounts),
            "by_population": dict(sorted(by_population.items())),
        }


def _domain_of(row: tuple, columns: ColumnMap) -> tuple[str | None, str | None, str | None]:
    """(canonical domain, None, None) or (None, reason code, offending value) for the first non-empty cell."""
    first_reason, first_value = "empty", None
    for index in columns.key_columns:
        value = row[index] if index < len(row) else None
        if value is None or not str(value).strip():
            continue
        try:
            return canonical_domain(str(value)), None, None
        except DomainRejected as exc:
            if first_value is None or (first_reason == "empty" and exc.reason != "empty"):
                first_reason, first_value = exc.reason, str(value)
    return None, first_reason, first_value


class _Groups:
    """Union-find over row candidates, keyed by match key."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.by_key: dict[MatchKey, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
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


def load_accounts(
    path: Path | str,
    *,
    key_column: str | None = None,
    name_column: str | None = None,
    population_column: str | None = None,
    country_column: str | None = None,
    population_map: Path | None = None,
    default_population: str = "customer",
    name_key: bool = False,
) -> LoadResult:
    table = read_table(Path(path))
    columns = resolve_columns(table.columns, str(table.path), key_column, name_column, population_column, country_column)
    stages = StageMap.load(population_map)
    rejected: list[Rejected] = []
    candidates: list[tuple[int, list[MatchKey], str, str | None, str | None, tuple]] = []
    groups = _Groups()
    for number, row in enumerate(table.rows, start=1):
        domain, reason, value = _domain_of(row, columns)
        name = row[columns.name_column] if columns.name_column is not None else None
        keys = [MatchKey("domain", domain)] if domain else []
        if name_key and name:
            country = row[columns.country_column] if columns.country_column is not None else None
            key = make_name_key(name, country)
            if key:
                keys.append(MatchKey("name", key))
        if not keys:
            column = next((columns.names[i] for i in columns.key_columns if row[i] == value), columns.names[columns.key_columns[0]])
            detail = f" ({column} = {value!r})" if value else ""
            rejected.append(Rejected(number, REASONS.get(reason or "empty", reason or "empty") + detail))
            continue
        if columns.population_column is not None:
            stage = row[columns.population_column]
            population = stages.population(stage)
            if population is None:
                shown = "empty" if not (stage or "").strip() else repr(stage)
                rejected.append(Rejected(number, f"unmapped stage {shown} in {columns.names[columns.population_column]} (map it with --population-map)"))
                continue
        else:
            population = default_population
        groups.add(keys)
        candidates.append((number, keys, population, name, domain, row))
    merged: dict[int, dict] = {}
    for node, (number, keys, population, name, domain, row) in enumerate(candidates):
        root = groups.find(node)
        acc = merged.setdefault(root, {"rows": [], "keys": set(), "pops": set(), "name": name, "domain": domain, "values": row})
        acc["rows"].append(number)
        acc["keys"].update(keys)
        acc["pops"].add(population)
        acc["domain"] = acc["domain"] or domain
        acc["name"] = acc["name"] or name
    accounts = [
        Account(
            rows=tuple(a["rows"]),
            keys=tuple(sorted(a["keys"])),
            populations=tuple(sorted(a["pops"])),
            name=a["name"],
            domain=a["domain"],
            values=a["values"],
        )
        for a in merged.values()
    ]
    accounts.sort(key=lambda a: a.rows[0])
    return LoadResult(table.path, accounts, rejected, len(table.rows), columns)
