"""One account of a file: the rows it was read from, its match keys and populations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cleanroom_client.inputs.rowkeys import MatchKey


@dataclass(slots=True)
class Account:
    rows: tuple[int, ...]  # 1-based data rows, ascending
    keys: tuple[MatchKey, ...]  # sorted
    populations: tuple[str, ...]  # sorted
    name: str | None
    domain: str | None
    # The first row's non-empty raw cells; an empty read-only mapping when loaded with keep_fields=False.
    fields: Mapping[str, str] = field(repr=False, default_factory=dict)


NO_FIELDS: Mapping[str, str] = MappingProxyType({})  # the fields of an account loaded without them


def key_text(keys: Iterable[MatchKey]) -> str:
    """Sorted keys as one text ("domain\x1eacme.com\x1fname\x1eacme|us"): what an account is known by locally."""
    return "\x1f".join([k.kind + "\x1e" + k.value for k in keys])
