"""The agent's small parts: its state file (atomic, 0600), the shrink decision, which export it watches and when
that export is done being written, its log lines and its --interval."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from cleanroom.errors import InputError
from cleanroom_client.commands.agent import parse_duration
from cleanroom_client.features import agent_state
from cleanroom_client.features.agent_export import content_digest, newest_export, settled, snapshot
from cleanroom_client.features.agent_log import ActionLog
from cleanroom_client.features.agent_state import STATE_FILE, AgentState, write_atomic
from cleanroom_client.features.shrink_guard import shrink_refusal

# -- the state file


def test_state_round_trips_and_is_owner_only_even_under_a_lax_umask(tmp_path: Path):
    state = AgentState("/data/crm.csv", "ab" * 32, 1200, "2026-01-01T00:00:00+00:00", ["agr_1", "agr_2"], {"outcome": "ok"})
    old = os.umask(0)
    try:
        state.save(tmp_path)
    finally:
        os.umask(old)
    assert oct((tmp_path / STATE_FILE).stat().st_mode & 0o777) == "0o600"
    assert AgentState.load(tmp_path) == state
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]  # no temporary file left behind


def test_no_state_file_is_a_fresh_start_and_a_broken_one_is_named(tmp_path: Path):
    assert AgentState.load(tmp_path) == AgentState()
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(InputError, match=f"{STATE_FILE}: cannot be read"):
        AgentState.load(tmp_path)


def test_fields_a_newer_agent_wrote_are_ignored(tmp_path: Path):
    (tmp_path / STATE_FILE).write_text(json.dumps({"export_accounts": 7, "from_the_future": True}))
    assert AgentState.load(tmp_path).export_accounts == 7


def test_the_file_is_replaced_whole_never_rewritten_in_place(tmp_path: Path):
    path = tmp_path / STATE_FILE
    write_atomic(path, b"old state")
    with open(path, "rb") as reader:  # a reader that opened the old file keeps reading all of it
        write_atomic(path, b"new state, longer than the old")
        assert reader.read() == b"old state"
    assert path.read_bytes() == b"new state, longer than the old"


def test_a_write_that_fails_midway_leaves_the_previous_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / STATE_FILE
    write_atomic(path, b"previous")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(agent_state.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"half of the next")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]


# -- the shrink guard


@pytest.mark.parametrize(
    ("previous", "current", "max_shrink", "refused"),
    [
        (None, 0, 0.2, False),  # nothing mapped yet: no baseline
        (1000, 1000, 0.2, False),
        (1000, 5000, 0.2, False),  # growth is fine
        (1000, 800, 0.2, False),  # exactly 20% gone: allowed
        (1000, 799, 0.2, True),  # just over
        (1000, 0, 0.2, True),  # the motivating case: an export that shrank to nothing
        (1000, 0, 1.0, False),  # --max-shrink 1: anything goes
        (1000, 999, 0.0, True),  # --max-shrink 0: not one account may go
        (0, 0, 0.2, False),
    ],
)
def test_shrink_refusal(previous, current, max_shrink, refused):
    why = shrink_refusal("crm.csv", previous, current, max_shrink)
    assert (why is not None) == refused
    if why is not None:
        assert why.startswith("crm.csv: ") and "--allow-shrink" in why and f"{previous:,}" in why


def test_the_refusal_says_the_counts_and_the_share():
    why = shrink_refusal("/exports/crm.csv", 2000, 1200, 0.2)
    assert why is not None
    assert "1,200 accounts, 800 fewer than the 2,000" in why and "40% gone" in why and "--max-shrink 0.2" in why


# -- the export watched


def _file(path: Path, text: str, mtime: int) -> Path:
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def test_the_newest_export_in_a_directory(tmp_path: Path):
    assert newest_export(tmp_path) is None
    assert newest_export(tmp_path / "missing.csv") is None
    _file(tmp_path / "crm-1.csv", "a", 1_000)
    newest = _file(tmp_path / "crm-2.parquet", "b", 2_000)
    _file(tmp_path / "README.txt", "not an export", 9_000)
    _file(tmp_path / ".crm-3.csv.part", "being written", 9_000)
    _file(tmp_path / "~$crm.xlsx", "Excel's lock file", 9_000)
    (tmp_path / "older.csv").mkdir()
    assert newest_export(tmp_path) == newest
    one = tmp_path / "crm-1.csv"
    assert newest_export(one) == one  # a file is watched as itself


def test_settled_waits_for_a_file_to_hold_still(tmp_path: Path):
    path = _file(tmp_path / "crm.csv", "header\n", 1_000)
    assert settled(path, 0.0, lambda s: False) == snapshot(path)

    def still_writing(seconds: float) -> bool:
        with open(path, "a") as fh:  # the export job appends between every two looks
            fh.write("row\n")
        return False

    assert settled(path, 0.0, still_writing, tries=3) is None
    assert settled(path, 0.0, lambda s: True) is None  # asked to stop while waiting


def test_the_digest_is_of_the_content_not_the_timestamp(tmp_path: Path):
    path = _file(tmp_path / "crm.csv", "Website\nacme.com\n", 1_000)
    before = content_digest(path)
    assert before == hashlib.sha256(b"Website\nacme.com\n").hexdigest()
    os.utime(path, (5_000, 5_000))
    assert content_digest(path) == before
    path.write_text("Website\nacme.org\n")
    assert content_digest(path) != before
    assert content_digest(path, block=3) == hashlib.sha256(b"Website\nacme.org\n").hexdigest()  # read in blocks


# -- the log and the interval


def test_one_json_object_per_line_without_empty_fields():
    stream = io.StringIO()
    log = ActionLog(stream)
    log.emit("map", "complete", agreement_id="agr_1", run_id="run_1", overlap=0, why="", waiting_for=[], error=None)
    log.emit("stop", "ok")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [sorted(x) for x in lines] == [
        ["action", "agreement_id", "outcome", "overlap", "run_id", "ts"],  # a zero count is kept
        ["action", "outcome", "ts"],
    ]
    assert lines[0]["ts"].endswith("+00:00")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1d", 86400.0), ("0.5s", 0.5), ("15M", 900.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15x", "m", "0", "0s", "-1m", "1.5.2h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)
