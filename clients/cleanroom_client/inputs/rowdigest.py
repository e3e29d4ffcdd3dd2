"""A 16-byte digest per row of the cells normalisation reads: the row cache's key (rowcache.py).

One function computes it for every reader, so a row read by the Python CSV
reader, from Parquet or by the fast Arrow path gets the same digest. The
cells are written length-prefixed (UTF-8 byte length, ':', the cell; an
empty or absent cell is empty), so no two rows' cells run together into the
same text, and the options fingerprint is prefixed: a row read under other
options never has the same digest. MD5 runs in DuckDB, vectorised and on
every core (a Python loop over a million rows costs more than the read);
collisions of a 128-bit digest among a file's rows are not a practical
concern, and nobody gains by forging one against their own cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from importlib import metadata

import numpy as np
import pyarrow as pa

from cleanroom_client.inputs.columns import ColumnMap
from cleanroom_client.inputs.duck import querying
from cleanroom_client.inputs.populations import StageMap
from cleanroom_client.inputs.version import NORMALISER_VERSION

DIGEST_BYTES = 16
# Packages whose data change what a row normalises to (the Public Suffix List snapshot, IDNA tables, disposable domains).
_DATA_PACKAGES = ("tldextract", "idna", "disposable-email-domains")


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def digest_columns(columns: ColumnMap) -> tuple[int, ...]:
    """The indexes of the cells a row's outcome depends on: key columns (in order), name, country, population."""
    extra = (columns.name_column, columns.country_column, columns.population_column)
    return columns.key_columns + tuple(i for i in extra if i is not None)


def fingerprint(columns: ColumnMap, stages: StageMap, default_population: str, name_key: bool) -> str:
    """Everything besides the cells that changes a row's outcome, as a hex digest: any change misses the cache."""
    names = columns.names
    options = {
        "normaliser": NORMALISER_VERSION,
        "packages": {p: _package_version(p) for p in _DATA_PACKAGES},
        "cells": [names[i] for i in digest_columns(columns)],
        "keys": [names[i] for i in columns.key_columns],
        "name": columns.name_column is not None and names[columns.name_column],
        "country": columns.country_column is not None and names[columns.country_column],
        "population": columns.population_column is not None and names[columns.population_column],
        "deal_stages": columns.deal_stages,
        "stages": [[label, stages.population(label)] for label in stages.accepted()],
        "default_population": default_population,
        "name_key": name_key,
    }
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


def row_digests(cells: Sequence[pa.Array | pa.ChunkedArray], salt: str) -> np.ndarray:
    """(n, 16) uint8: each row's digest of ``salt`` and its cells (string columns of equal length, nulls as empty)."""
    if not cells:
        raise ValueError("a row digest needs at least one column")
    table = pa.table({f"c{i}": c for i, c in enumerate(cells)})
    parts = ", ".join(f"strlen(coalesce(c{i}, '')), ':', coalesce(c{i}, '')" for i in range(len(cells)))
    with querying(cells=table) as con:
        found = con.execute(MD5_HALVES.format(f"concat($salt, {parts})", "cells"), {"salt": salt}).fetchnumpy()
    return md5_bytes(found).view(np.uint8).reshape(-1, DIGEST_BYTES)


# An MD5 digest as two 64-bit integers (lo, hi), which DuckDB hands over without a text or blob per row (a
# third of the cost of unhex(md5(...))): md5_number is the digest read as a little-endian 128-bit integer.
# Computed once, in a subquery: written twice in one projection, DuckDB computes it twice (measured: 0.79
# against 0.40 CPU s for 1.2M lines of an export).
MD5_HALVES = (
    "SELECT (h & 18446744073709551615::UHUGEINT)::UBIGINT AS lo, (h >> 64)::UBIGINT AS hi "
    "FROM (SELECT md5_number({0}) AS h FROM {1})"
)


def md5_bytes(found: dict[str, np.ndarray]) -> np.ndarray:
    """The digests of an ``MD5_HALVES`` result as S16, their bytes in order (as hashlib's ``digest()``)."""
    halves = np.stack([np.asarray(found["lo"], dtype="<u8"), np.asarray(found["hi"], dtype="<u8")], axis=1)
    return np.ascontiguousarray(halves).view(f"S{DIGEST_BYTES}").reshape(-1)
