"""Operations end to end: a coordinator started through docker/entrypoint.sh (the images' entry point)
with a config file serves, maps and answers /readyz; SIGTERM during an upload lets the call in flight
finish, exits 0, and the upload commits after a restart without a chunk sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client_background, client_json, finish
from cleanroom.demo.run import POPULATIONS, check_view

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
GRACE = 10.0  # [shutdown] grace_seconds of the config below


class EntrypointCoordinator:
    """A coordinator process started as the image starts it: `entrypoint.sh coordinator` (init once, serve)."""

    def __init__(self, base: Path) -> None:
        self.data_dir, self.config = base / "data", base / "coordinator.toml"
        self.log = base / "coordinator.log"
        self.port = 0
        self.http_port = 0
        self.process: subprocess.Popen | None = None
        self.config.write_text(
            '[http]\nlisten = "127.0.0.1:0"\n\n[log]\nformat = "json"\n\n'
            f"[shutdown]\ngrace_seconds = {GRACE}\n\n[limits]\nmax_points = 100_000\n"
        )

    def start(self) -> EntrypointCoordinator:
        ports = self.data_dir.parent / "grpc.port", self.data_dir.parent / "http.port"
        for file in ports:
            file.unlink(missing_ok=True)
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "CLEANROOM_DATA_DIR": str(self.data_dir),
            "CLEANROOM_GRPC_LISTEN": f"127.0.0.1:{self.port}",  # the same port again after a restart
        }
        argv = ["sh", str(ENTRYPOINT), "coordinator", "--config", str(self.config)]
        argv += ["--port-file", str(ports[0]), "--http-port-file", str(ports[1])]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        while not ports[0].exists():  # the HTTP port file is written first
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.05)
        self.port, self.http_port = int(ports[0].read_text()), int(ports[1].read_text())
        return self

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=GRACE + 30)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("data")
    argv = [*CLIENT, "synth", "--out", str(out), "--vendor-accounts", "3000", "--partner-accounts", "2500"]
    proc = subprocess.run([*argv, "--overlap", "900", "--seed", "5", "--json"], capture_output=True, text=True, check=True)
    paths = json.loads(proc.stdout)
    paths["truth"] = json.loads(Path(paths["ground_truth"]).read_text())
    return paths


def _parties(coord: EntrypointCoordinator, base: Path) -> dict[str, Path]:
    local = LocalCoordinator(coord.data_dir, port=coord.port)  # add-party on the data dir, dialling this port
    return {name: local.add_party(name, base / name) for name in ("vendor", "partner")}


def _agree(parties: dict[str, Path]) -> str:
    agreement = client_json(
        parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", ",".join(POPULATIONS)
    )
    client_json(parties["partner"], "agreement", "approve", agreement["agreement_id"])
    return str(agreement["agreement_id"])


def _check(views: dict[str, dict], truth: dict) -> None:
    assert check_view(views["vendor"], truth, True) == []
    assert check_view(views["partner"], truth, False) == []


def test_the_entrypoint_starts_a_configured_coordinator_that_maps(tmp_path: Path, dataset: dict):
    coord = EntrypointCoordinator(tmp_path).start()
    try:
        assert (coord.data_dir / "config.json").exists()  # init ran, once
        ready = httpx.get(f"http://127.0.0.1:{coord.http_port}/readyz")  # [http] listen came from the file
        assert ready.status_code == 200 and ready.json()["grpc"] == "serving"
        parties = _parties(coord, tmp_path)
        agreement_id = _agree(parties)
        partner = client_background(parties["partner"], "map", agreement_id, dataset["partner"], "--wait", "120", "--json")
        vendor = client_json(parties["vendor"], "map", agreement_id, dataset["vendor"], "--wait", "120")
        _check({"vendor": vendor, "partner": json.loads(finish(partner))}, dataset["truth"])
    finally:
        assert coord.stop() == 0
    events = coord.events()  # [log] format = "json": every line of its own is one object
    assert [e["event"] for e in events] == [
        "starting",
        "http.listening",
        "enroll.listening",
        "grpc.listening",
        "shutdown",
        "stopped",
    ]
    assert events[3]["fields"]["port"] == coord.port and events[4]["fields"]["signal"] == "SIGTERM"
    assert all(set(e) == {"ts", "level", "event", "message", "fields"} for e in events)
    assert events[0]["fields"]["config_file"] == str(coord.config)


def _sent(log: Path) -> dict[str, list[int]]:
    """upload id -> chunk seqs the client handed to gRPC, in order (the client's CLEANROOM_FAULT_SEND_LOG)."""
    sent: dict[str, list[int]] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        upload_id, seq = line.split()
        sent.setdefault(upload_id, []).append(int(seq))
    return sent


def test_sigterm_during_an_upload_exits_0_and_the_upload_commits_after_a_restart(tmp_path: Path, dataset: dict):
    coord = EntrypointCoordinator(tmp_path).start()
    parties = _parties(coord, tmp_path)
    agreement_id = _agree(parties)
    first, paused = tmp_path / "sent-1.log", tmp_path / "sent-1.log.paused"
    env = {**os.environ, "CLEANROOM_FAULT_SEND_LOG": str(first), "CLEANROOM_FAULT_PAUSE_AFTER_CHUNKS": "2"}
    argv = [*CLIENT, "--profile", str(parties["vendor"]), "map", agreement_id, dataset["vendor"], "--chunk-points", "500"]
    vendor = subprocess.Popen([*argv, "--wait", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    while not paused.exists():  # two chunks sent, the stream still open
        assert vendor.poll() is None, vendor.communicate()
        time.sleep(0.05)
    assert coord.process is not None
    coord.process.send_signal(signal.SIGTERM)
    while "shutdown" not in [e["event"] for e in coord.events()]:  # new calls are refused from here
        time.sleep(0.05)
    paused.unlink()  # the call in flight sends its remaining chunks during the grace period
    started = time.monotonic()
    assert coord.process.wait(timeout=GRACE + 30) == 0
    print(f"exit {time.monotonic() - started:.2f} s after the in-flight upload resumed (grace {GRACE:g} s)")
    _, stderr = vendor.communicate(timeout=60)
    assert vendor.returncode != 0, f"the commit came after the shutdown began: it must have been refused; {stderr}"
    (upload_id, seqs_before), *_ = _sent(first).items()
    assert len(seqs_before) > 2, "the stream was paused after 2 chunks: the rest went during the grace period"

    coord.start()  # through the entrypoint again: the data dir is kept, init does not run twice
    second = tmp_path / "sent-2.log"
    partner = client_background(parties["partner"], "map", agreement_id, dataset["partner"], "--wait", "120", "--json")
    again = subprocess.run(
        [*argv, "--wait", "120", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "CLEANROOM_FAULT_SEND_LOG": str(second)},
    )
    assert again.returncode == 0, again.stderr
    _check({"vendor": json.loads(again.stdout), "partner": json.loads(finish(partner))}, dataset["truth"])
    assert _sent(second).get(upload_id, []) == []  # resumed: every chunk was already held, none sent twice
    assert coord.stop() == 0


def test_grpc_serves_the_certificate_the_config_names(tmp_path: Path):
    """[grpc] cert/key replace the data dir's server pair: a certificate for another name fails the parties'
    TLS check (the data dir's would pass), and one for the address they dial passes."""
    from cleanroom.coordinator.datadir import DataDir
    from cleanroom.coordinator.pki import issue_server
    from cleanroom.demo.localrun import client

    coord = EntrypointCoordinator(tmp_path).start()  # init through the entrypoint: the CA the parties trust
    parties = _parties(coord, tmp_path)
    assert coord.stop() == 0
    ca = DataDir(coord.data_dir).ca()
    base_config = coord.config.read_text()
    for name, dialled in (("elsewhere.example", False), ("127.0.0.1", True)):
        pair = issue_server(ca, [name])
        (tmp_path / f"{name}.pem").write_bytes(pair.cert_pem)
        (tmp_path / f"{name}.key").write_bytes(pair.key_pem)
        coord.config.write_text(base_config + f'\n[grpc]\ncert = "{tmp_path / name}.pem"\nkey = "{tmp_path / name}.key"\n')
        coord.start()
        try:
            listed = client(parties["vendor"], "agreement", "list", "--json", check=False, timeout=60)
        finally:
            assert coord.stop() == 0
        assert (listed.returncode == 0) is dialled, (name, listed.stderr)
