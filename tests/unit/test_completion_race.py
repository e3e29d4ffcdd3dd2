"""A run revoked (or failed) while its completion joins is not completed: the revocation does not wait for
the join, so the completion's last step, marking the run complete, checks the run still collects and
otherwise rolls back everything it stored. Played in-process on a real store: the run is moved out of
``collecting`` inside the completion's own transaction, just before it marks the run complete."""

from __future__ import annotations

import pytest

from cleanroom.coordinator.completion import Completion

from inprocess import agree, coordinator, count, domains, run


def test_a_run_that_stopped_collecting_during_its_completion_releases_nothing(tmp_path, monkeypatch):
    coord, _ = coordinator(tmp_path)
    agreement = agree(coord, min_set_size=1, min_count=1)
    original = Completion._completed

    def revoked_meanwhile(self, con, run_row, *args, **kwargs):
        con.execute("UPDATE runs SET state = 'failed', failure = 'revoked' WHERE run_id = ?", [run_row.run_id])
        return original(self, con, run_row, *args, **kwargs)

    monkeypatch.setattr(Completion, "_completed", revoked_meanwhile)
    sets = {"vendor": domains("a", 12), "partner": domains("a", 8)}
    with pytest.raises(AssertionError):
        run(coord, agreement, sets)  # its last line checks the run completed: it did not
    assert count(coord, "runs", "WHERE state = 'complete'") == 0
    assert count(coord, "results") == 0
    assert not [e for e in coord.store.rows("SELECT action FROM audit_log") if e["action"] == "run.completed"]
