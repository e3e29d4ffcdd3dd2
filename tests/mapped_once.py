"""Two parties that mapped once on a serving coordinator: the setup of tests about what comes after a run."""

from __future__ import annotations

import json
from pathlib import Path

from cleanroom.demo.localrun import LocalCoordinator, client_background, client_json, finish

SHARED = 30  # the overlap the two files below have: the ground truth each run must release


def domains_csv(path: Path, domains: list[str]) -> str:
    path.write_text("Website,Type\n" + "".join(f"https://www.{d}/,Customer\n" for d in domains))
    return str(path)


def map_once(coord: LocalCoordinator, tmp_path: Path) -> tuple[dict[str, Path], str]:
    """Enrol vendor and partner, agree, and map 70 against 50 accounts sharing ``SHARED``; profiles, agreement id."""
    parties = {n: coord.add_party(n, tmp_path / n) for n in ("vendor", "partner")}
    propose = ["agreement", "propose", "--with", "partner", "--populations", "customer", "--min-set-size", "10"]
    agreement_id = client_json(parties["vendor"], *propose)["agreement_id"]
    client_json(parties["partner"], "agreement", "approve", agreement_id)
    shared = [f"shared{i}.com" for i in range(SHARED)]
    files = {
        "vendor": domains_csv(tmp_path / "v.csv", shared + [f"v{i}.com" for i in range(40)]),
        "partner": domains_csv(tmp_path / "p.csv", shared + [f"p{i}.com" for i in range(20)]),
    }
    procs = [client_background(parties[n], "map", agreement_id, files[n], "--wait", "60", "--json") for n in parties]
    assert all(json.loads(finish(p))["totals"]["overlap"] == SHARED for p in procs)
    return parties, agreement_id
