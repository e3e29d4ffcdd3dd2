"""Where ``map`` keeps the row cache: PROFILE/cache/rows-<digest of the options>.bin, whatever the file's name
(an export job writes each day's export under a new name, sharing almost every row with the last)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cleanroom_client.inputs.rowcache import RowCache
from cleanroom_client.profile import Profile

CACHE_DIR = "cache"


def row_cache(args: argparse.Namespace, name_key: bool) -> RowCache | None:
    """The row cache for ``args.file`` read with ``args``' options; None with --no-cache or without the option (inspect)."""
    if getattr(args, "no_cache", True):
        return None
    options = {
        "key_column": args.key_column,
        "name_column": args.name_column,
        "population_column": args.population_column,
        "country_column": args.country_column,
        "population_map": str(Path(args.population_map).resolve()) if args.population_map else None,
        "default_population": args.default_population,
        "name_key": name_key,
    }
    return RowCache.for_options(Profile.load(args.profile).path / CACHE_DIR, options)
