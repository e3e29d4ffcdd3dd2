"""The privacy boundary, end to end: the coordinator never stores or receives a
raw key, a canonical key, a plain hash of either, or an unblinded hash-to-curve point.

Everything the coordinator received is logged as raw request bytes (before any
of its code interprets them) and everything it stored is the DuckDB file; both
are searched for every form of every key of both parties' files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client_background, client_json, finish
from cleanroom.demo.run import POPULATIONS
from cleanroom.psi import hash_to_point
from cleanroom_client.protocol.prepare import hash_context  # the client's own context: a change to it is tested, not retyped

from store_scan import ZERO_RUN, stored_bytes

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


def _forms(value: str) -> list[bytes]:
    raw = value.encode("utf-8")
    digest = hashlib.sha256(raw).digest()
    return [raw, digest, digest.hex().encode(), hashlib.sha256(raw.lower()).digest()]


def test_coordinator_never_sees_keys(tmp_path: Path):
    wire_log = tmp_path / "wire.bin"
    coord = LocalCoordinator(tmp_path / "coord", wire_log=wire_log).init().start()
    try:
        parties = {n: coord.add_party(n, tmp_path / n) for n in ("vendor", "partner")}
        data = json.loads(
            subprocess.run(
                [
                    *CLIENT,
                    "synth",
                    "--out",
                    str(tmp_path / "data"),
                    "--vendor-accounts",
                    "600",
                    "--partner-accounts",
                    "500",
                    "--overlap",
                    "200",
                    "--json",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        agreement = client_json(
            parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", ",".join(POPULATIONS), "--name-key"
        )
        agreement_id = agreement["agreement_id"]
        client_json(parties["partner"], "agreement", "approve", agreement_id)
        procs = [
            client_background(parties[n], "map", agreement_id, data[n], "--wait", "120", "--json") for n in ("vendor", "partner")
        ]
        views = [json.loads(finish(p)) for p in procs]
        assert all(v["totals"]["overlap"] for v in views)  # the run really happened
    finally:
        coord.stop()

    received = wire_log.read_bytes()
    stored = stored_bytes(tmp_path / "coord")
    assert len(received) > 50_000 and len(stored) > 10_000

    needles: dict[bytes, str] = {}
    for name in ("vendor", "partner"):
        inspected = json.loads(
            subprocess.run(
                [*CLIENT, "inspect", data[name], "--name-key", "--json"], capture_output=True, text=True, check=True
            ).stdout
        )
        for account in inspected["accounts"]:
            for key in account["keys"]:
                kind, value = key.split(":", 1)
                for form in _forms(value) + _forms(key):
                    needles[form] = f"{name} key {key}"
                # The unblinded hash-to-curve point is a plain hash of the key too.
                needles[hash_to_point(value, hash_context(agreement_id, kind))] = f"{name} H({key})"
        with open(data[name], newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for column in ("Website", "Company Domain Name", "Website URL", "Account Name", "Company name"):
                    value = (row.get(column) or "").strip()
                    if len(value) >= 6:  # shorter strings occur by chance in any binary
                        for form in _forms(value):
                            needles[form] = f"{name} raw {column} {value!r}"
    assert len(needles) > 2000 and max(map(len, needles)) <= ZERO_RUN  # the cut store finds them (store_scan)
    leaks = [what for needle, what in needles.items() if needle in received or needle in stored]
    assert leaks == []
