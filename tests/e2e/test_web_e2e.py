"""REST beside gRPC in one coordinator process: real clients map over mTLS, the REST API serves what they were released."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cleanroom.demo.localrun import COORDINATOR, LocalCoordinator, client_background, client_json, finish, run

from web_data import build

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


def _csv(path: Path, domains: list[str]) -> str:
    path.write_text("Website,Type\n" + "".join(f"https://www.{d}/,Customer\n" for d in domains))
    return str(path)


def test_rest_serves_the_releases_grpc_clients_got(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord", http=True).init()
    analyst = coord.add_api_key("vendor", "analyst")  # the CLI, while the coordinator is stopped
    auditor = coord.add_api_key("partner", "auditor")
    assert analyst.startswith("crk_") and len(analyst) == 60
    coord.start()
    try:
        # While it runs, the CLI asks it over its admin socket (never opening its store): the key works at once.
        live = run(
            [*COORDINATOR, "coordinator", "add-api-key", "--data-dir", str(coord.data_dir), "--party", "x", "--role", "analyst"]
        ).stdout.strip()
        parties = {n: coord.add_party(n, tmp_path / n) for n in ("vendor", "partner")}
        agreement_id = client_json(
            parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer", "--min-set-size", "10"
        )["agreement_id"]
        client_json(parties["partner"], "agreement", "approve", agreement_id)
        files = {
            "vendor": _csv(tmp_path / "v.csv", [f"shared{i}.com" for i in range(30)] + [f"v{i}.com" for i in range(40)]),
            "partner": _csv(tmp_path / "p.csv", [f"shared{i}.com" for i in range(30)] + [f"p{i}.com" for i in range(20)]),
        }
        with httpx.Client(base_url=coord.http_url, timeout=10) as http:
            assert http.get("/v1/agreements", headers={"Authorization": f"Bearer {live}"}).status_code == 200
            as_vendor = {"Authorization": f"Bearer {analyst}"}
            before = http.get(f"/v1/agreements/{agreement_id}/overlap", headers=as_vendor)
            assert before.status_code == 404 and "no run of it has completed" in before.json()["error"]["message"]
            procs = {n: client_background(parties[n], "map", agreement_id, files[n], "--wait", "300", "--json") for n in parties}
            views = {n: json.loads(finish(p)) for n, p in procs.items()}
            assert views["vendor"]["totals"]["overlap"] == 30
            # The same store, live: what gRPC released a moment ago is what REST serves, signature and all.
            served = http.get(f"/v1/agreements/{agreement_id}/overlap", headers=as_vendor).json()["release"]
            # (map's view also says how it read the local file: that is not part of the release)
            assert served == {k: v for k, v in views["vendor"].items() if k != "read"}
            report = http.get(
                f"/v1/agreements/{agreement_id}/disclosure-report", headers={"Authorization": f"Bearer {auditor}"}
            ).json()
            assert {v["viewer"]: len(v["releases"]) for v in report["viewers"]} == {"vendor": 1, "partner": 1}
            entries = http.get(
                "/v1/audit/entries",
                params={"agreement_id": agreement_id, "order": "asc"},
                headers={"Authorization": f"Bearer {auditor}"},
            ).json()["items"]
            actions = [e["action"] for e in entries]
            assert actions[:2] == ["agreement.proposed", "agreement.approved"] and actions.count("release.overlap") == 2
    finally:
        coord.stop()


def test_demo_serve_prints_working_keys_and_stops_on_ctrl_c(tmp_path: Path):
    """What `cleanroom demo --serve` does after the demo (the demo itself is tested in test_demo.py)."""
    built = build(tmp_path)
    code = (
        "import sys; from pathlib import Path; from cleanroom.demo.localrun import LocalCoordinator; "
        "from cleanroom.demo.serve import serve_after_demo; serve_after_demo(LocalCoordinator(Path(sys.argv[1])), 0)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(built["data_dir"])], stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        url = re.search(r"(http://127\.0\.0\.1:\d+)/ ", text).group(1)
        keys = dict(re.findall(r"^\s+vendor (analyst|auditor) .*?(crk_\S+)$", text, re.M))
        for role, key in keys.items():
            me = httpx.get(url + "/v1/me", headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
            assert me["party"] == "vendor" and me["role"] == role
        assert httpx.get(url + "/login", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
