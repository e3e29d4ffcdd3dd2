"""The agent's map step up to the point where it would send: which exports it refuses, and that it says so once.

No coordinator here (tests/e2e/test_e2e_agent.py maps for real): every case below must decide without one,
so the step gets no connection at all, and would fail if it tried to use one.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from cleanroom_client.features.agent_export import content_digest
from cleanroom_client.features.agent_log import ActionLog
from cleanroom_client.features.agent_mapping import Mapper, MapSettings
from cleanroom_client.features.agent_state import AgentState
from cleanroom_client.features.agent_stop import StopFlag
from cleanroom_client.inputs.accounts import LoadResult, load_accounts
from cleanroom_client.profile import Profile

NO_COORDINATOR: Any = None


def _export(path: Path, domains: list[str], mtime: int = 1_000) -> Path:
    path.write_text("Website,Type\n" + "".join(f"{d},Customer\n" for d in domains))
    os.utime(path, (mtime, mtime))
    return path


def _mapper(tmp_path: Path, watch: Path, allow_shrink: bool = False) -> tuple[Mapper, io.StringIO]:
    def load(path: Path, name_key: bool, keep_fields: bool) -> LoadResult:
        return load_accounts(path, name_key=name_key, keep_fields=keep_fields)

    stream = io.StringIO()
    settings = MapSettings(watch, max_shrink=0.2, allow_shrink=allow_shrink, wait=0.0, settle=0.0, chunk_points=1000)
    profile = Profile(tmp_path / "profile", "vendor", "127.0.0.1:1")
    return Mapper(profile, settings, load, ActionLog(stream), StopFlag()), stream


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _mapped(path: Path, accounts: int) -> AgentState:
    """The state after ``path`` was mapped under agr_1 with ``accounts`` accounts."""
    return AgentState(str(path), content_digest(path), accounts, "2026-01-01T00:00:00+00:00", ["agr_1"])


def test_a_header_only_export_is_refused_once_with_the_reason(tmp_path: Path):
    exports = tmp_path / "exports"
    exports.mkdir()
    state = _mapped(_export(exports / "crm-1.csv", [f"d{i}.com" for i in range(50)]), 50)
    shrunk = _export(exports / "crm-2.csv", [], mtime=2_000)
    mapper, stream = _mapper(tmp_path, exports)
    assert mapper.step(NO_COORDINATOR, state, ["agr_1"], []) == "refused"
    assert mapper.step(NO_COORDINATOR, state, ["agr_1"], ["agr_1"]) == "refused"  # not even for a partner's waiting run
    refusals = [x for x in _lines(stream) if x["action"] == "shrink_refused"]
    assert len(refusals) == 1
    assert refusals[0]["file"] == str(shrunk) and refusals[0]["accounts"] == 0 and refusals[0]["previous_accounts"] == 50
    assert "--allow-shrink" in refusals[0]["why"]
    assert state.export_accounts == 50 and state.export_path.endswith("crm-1.csv")  # the baseline stands


def test_a_shrink_within_the_limit_goes_on_to_map(tmp_path: Path):
    exports = tmp_path / "exports"
    exports.mkdir()
    state = _mapped(_export(exports / "crm-1.csv", [f"d{i}.com" for i in range(50)]), 50)
    _export(exports / "crm-2.csv", [f"d{i}.com" for i in range(40)], mtime=2_000)  # 20% gone: allowed
    mapper, stream = _mapper(tmp_path, exports)
    with pytest.raises(AttributeError):  # it went on to map: with no coordinator to map with, it fails there
        mapper.step(NO_COORDINATOR, state, ["agr_1"], [])
    started = [x for x in _lines(stream) if x["action"] == "map_all"]
    assert started and started[0]["outcome"] == "started" and started[0]["accounts"] == 40
    assert not any(x["action"] == "shrink_refused" for x in _lines(stream))


def test_allow_shrink_still_refuses_a_file_with_nothing_to_map(tmp_path: Path):
    path = _export(tmp_path / "crm.csv", [])
    mapper, stream = _mapper(tmp_path, path, allow_shrink=True)
    assert mapper.step(NO_COORDINATOR, AgentState(export_accounts=50), ["agr_1"], []) == "refused"
    (line,) = [x for x in _lines(stream) if x["outcome"] == "refused"]
    assert line["action"] == "input_error" and "no accounts to map" in line["why"]


def test_an_unreadable_export_is_logged_not_raised(tmp_path: Path):
    path = tmp_path / "crm.csv"
    path.write_text("Company\nAcme\n")  # no website, domain or e-mail column
    mapper, stream = _mapper(tmp_path, path)
    assert mapper.step(NO_COORDINATOR, AgentState(), ["agr_1"], []) == "refused"
    (line,) = [x for x in _lines(stream) if x["outcome"] == "refused"]
    assert line["action"] == "input_error" and str(path) in line["why"]


def test_an_export_touched_but_unchanged_is_not_mapped_again(tmp_path: Path):
    path = _export(tmp_path / "crm.csv", ["acme.com", "globex.com"])
    state = _mapped(path, 2)
    os.utime(path, (9_000, 9_000))  # the export job ran again and wrote the same bytes
    mapper, stream = _mapper(tmp_path, path)
    assert mapper.step(NO_COORDINATOR, state, ["agr_1"], []) == "idle"
    assert [x["action"] for x in _lines(stream)] == ["export"]  # seen (hashed), nothing else
    # ... unless an agreement has not taken it yet, or a partner's run waits for our upload: then it maps.
    for active, waiting in ((["agr_1", "agr_2"], []), (["agr_1"], ["agr_1"])):
        mapper, stream = _mapper(tmp_path, path)
        with pytest.raises(AttributeError):  # no coordinator to map with
            mapper.step(NO_COORDINATOR, state, active, waiting)
        assert any(x["action"] == "map_all" and x["outcome"] == "started" for x in _lines(stream))


def test_no_export_yet_is_said_once(tmp_path: Path):
    mapper, stream = _mapper(tmp_path, tmp_path)
    for _ in range(3):
        assert mapper.step(NO_COORDINATOR, AgentState(), ["agr_1"], []) == "idle"
    assert [(x["action"], x["outcome"]) for x in _lines(stream)] == [("export", "none")]
