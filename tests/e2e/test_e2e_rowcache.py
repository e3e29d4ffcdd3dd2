"""End to end: `map` keeps a row cache in the profile and a second map of the same file reads it, over real processes.

Ground truth comes from the generator (which never uses the normaliser); every run's released matrix
must equal it, whether the rows were normalised (first map, --no-cache) or came from the cache.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from cleanroom.demo.localrun import CLIENT, client_background, client_json, finish
from cleanroom.demo.run import POPULATIONS, check_view

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("data")
    args = ["synth", "--out", str(out), "--vendor-accounts", "2000", "--partner-accounts", "1500", "--overlap", "600"]
    proc = subprocess.run([*CLIENT, *args, "--seed", "5", "--json"], capture_output=True, text=True, check=True)
    paths = json.loads(proc.stdout)
    paths["truth"] = json.loads(Path(paths["ground_truth"]).read_text())
    return paths


def _map_both(parties: dict[str, Path], dataset: dict, *extra: str) -> int:
    """Map both files under a new agreement; the rows the vendor normalised (the others came from its cache)."""
    proposed = client_json(parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", ",".join(POPULATIONS))
    agreement_id = proposed["agreement_id"]
    assert client_json(parties["partner"], "agreement", "approve", agreement_id)["state"] == "active"
    procs = {
        name: client_background(parties[name], "map", agreement_id, dataset[name], "--wait", "120", "--json", *extra)
        for name in ("vendor", "partner")
    }
    views = {name: json.loads(finish(p)) for name, p in procs.items()}
    assert check_view(views["vendor"], dataset["truth"], True) == []
    assert check_view(views["partner"], dataset["truth"], False) == []
    return int(views["vendor"]["read"]["rows_normalised"])


def _cache_files(profile: Path) -> dict[str, bytes]:
    folder = profile / "cache"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_second_map_reads_the_row_cache_and_no_cache_leaves_it_alone(parties, dataset):
    rows = dataset["truth"]["vendor_rows"]
    assert _map_both(parties, dataset, "--no-cache") == rows
    assert _cache_files(parties["vendor"]) == {}  # --no-cache writes nothing
    assert _map_both(parties, dataset) == rows
    first = _cache_files(parties["vendor"])
    assert len(first) == 1 and next(iter(first)).startswith("rows-")
    cache = parties["vendor"] / "cache" / next(iter(first))
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert _map_both(parties, dataset) == 0  # every row from the cache: the same release, the cache file untouched
    assert _cache_files(parties["vendor"]) == first
