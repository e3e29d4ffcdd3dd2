"""Structured logs, /readyz and DuckDB's settings: what the config file changes at run time."""

from __future__ import annotations

import io
import json
import logging
import stat
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.server import Operations, _tune
from cleanroom.coordinator.web.app import create_app
from cleanroom.terminal.logs import EventLog, configure

from inprocess import coordinator


def test_json_events_are_one_object_a_line(capsys):
    stream = io.StringIO()
    events = EventLog("json", "info", stream)
    events.event("grpc.listening", "coordinator listening on h:1 (mTLS)", host="h", port=1)
    events.event("noise", "not shown", level="debug")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"ts", "level", "event", "message", "fields"}
    assert (record["level"], record["event"], record["fields"]) == ("info", "grpc.listening", {"host": "h", "port": 1})
    assert record["ts"].endswith("Z")


def test_text_events_are_the_message_alone():
    stream = io.StringIO()
    EventLog("text", "info", stream).event("grpc.listening", "coordinator listening on h:1 (mTLS)", port=1)
    assert stream.getvalue() == "coordinator listening on h:1 (mTLS)\n"


def test_json_mode_sends_the_coordinators_log_records_as_objects(capsys):
    configure("json", "info")
    try:
        logging.getLogger("cleanroom.coordinator").error("store damaged: %s", "truncated", extra={"event": "store.damaged"})
        logging.getLogger("cleanroom.coordinator.web").info("kept")
        logging.getLogger("cleanroom.coordinator.web").debug("below the level")
    finally:
        configure("text", "info")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["level"], r["event"], r["message"]) for r in lines] == [
        ("error", "store.damaged", "store damaged: truncated"),
        ("info", "cleanroom.coordinator.web", "kept"),
    ]
    assert lines[0]["fields"]["logger"] == "cleanroom.coordinator"
    assert not logging.getLogger("cleanroom").handlers  # text mode again: no handler of ours left


def test_readyz_needs_the_store_and_grpc(tmp_path: Path):
    base, _ = coordinator(tmp_path)
    state: dict[str, str | None] = {"problem": None}
    app = create_app(Coordinator(base.store), readiness=lambda: state["problem"])
    with TestClient(app) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["grpc"] == "serving"
        state["problem"] = "shutting down"
        refused = http.get("/readyz")
        assert refused.status_code == 503 and refused.json()["error"]["message"] == "not ready: shutting down"
        assert http.get("/healthz").status_code == 200  # alive all the same
    without_grpc = create_app(Coordinator(base.store))
    with TestClient(without_grpc) as http:
        assert http.get("/readyz").status_code == 503
        base.store.close()
        closed = http.get("/readyz")
        assert closed.status_code == 503 and "store check failed" in closed.json()["error"]["message"]


def test_duckdb_settings_reach_the_stores_connection(tmp_path: Path):
    base, _ = coordinator(tmp_path)
    with base.store.db.reading() as con:
        before = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
    _tune(base.store, Operations(duckdb_memory_limit="300MiB", duckdb_threads=1))
    with base.store.db.reading() as con:
        after = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
    # What DuckDB reports for the same setting on a plain connection of its own: the independent answer.
    plain = duckdb.connect()
    plain.execute("SET memory_limit = '300MiB'")
    expected = plain.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert after == (expected, 1) and after != before
    _tune(base.store, Operations())  # unset keys leave DuckDB's values alone
    with base.store.db.reading() as con:
        assert con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone() == after
    base.store.close()


def test_duckdb_spills_into_a_directory_of_the_coordinators_own(tmp_path: Path):
    base, _ = coordinator(tmp_path)
    _tune(base.store, Operations())
    default = base.store.path.parent / "duckdb-tmp"
    with base.store.db.reading() as con:
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(default)
    assert default.is_dir() and stat.S_IMODE(default.stat().st_mode) == 0o700  # spilled blocks hold tokens
    named = tmp_path / "spill" / "here"
    _tune(base.store, Operations(duckdb_temp_directory=str(named)))
    with base.store.db.reading() as con:
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(named)
    assert named.is_dir()
    base.store.close()
