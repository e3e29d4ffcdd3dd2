"""The agent's map step: when the watched export is new or changed (or an agreement has not taken it yet, or a
partner's run waits for our upload), check it and map it under every active agreement (``map_all``).

Refused, and said why in one line, without sending anything: an export still being written (its size or
modification time moved during the settle check: tried again next cycle), one that cannot be read, and one
that lost more than ``max_shrink`` of the accounts of the last export mapped (unless ``allow_shrink``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cleanroom.errors import EmptyInput, InputError
from cleanroom_client.features.agent_export import Snapshot, content_digest, newest_export, settled, snapshot
from cleanroom_client.features.agent_log import ActionLog
from cleanroom_client.features.agent_state import AgentState
from cleanroom_client.features.agent_stop import StopFlag
from cleanroom_client.features.map_all import MapAllResult, Outcome, map_all
from cleanroom_client.features.shrink_guard import shrink_refusal
from cleanroom_client.inputs.accounts import LoadResult
from cleanroom_client.profile import Profile
from cleanroom_client.remote import Remote, ScopedRemote

# Reads an export: (its path, whether to match on names too, whether to keep every column).
FileLoader = Callable[[Path, bool, bool], LoadResult]
SERVED = ("complete", "collecting")  # outcomes whose agreement took the export


@dataclass(frozen=True)
class MapSettings:
    watch: Path
    max_shrink: float
    allow_shrink: bool
    wait: float  # seconds the cycle waits for the partners and the results (agent.py; later cycles fetch the rest)
    settle: float  # seconds an export's size and mtime must hold still before it is read
    chunk_points: int


@dataclass(frozen=True)
class Export:
    snap: Snapshot
    digest: str


class Mapper:
    def __init__(self, profile: Profile, settings: MapSettings, load: FileLoader, log: ActionLog, stop: StopFlag) -> None:
        self.profile, self.settings, self.load, self.log, self.stop = profile, settings, load, log, stop
        self._digests: dict[Snapshot, str] = {}  # the last export hashed: not hashed again while untouched
        self._refused: dict[str, str] = {}  # digest -> why, for exports refused as they are: said once
        self._said = ""  # the last "nothing to map" note, not repeated every cycle
        self.collecting: set[str] = set()  # the runs the last map joined that still collect

    def step(self, remote: Remote, state: AgentState, active: list[str], waiting: list[str]) -> str:
        """Map the export if due; the step's outcome: ok | idle | refused | partial."""
        self.collecting = set()
        export = self._export()
        if export is None:
            return "idle"
        changed = export.digest != state.export_digest
        unserved = sorted(set(active) - set(state.mapped_agreements)) if not changed else list(active)
        if not active or not (changed or unserved or waiting):
            return "idle"
        if export.digest in self._refused:
            return "refused"  # said when it was refused; a new export (or a restart) tries again
        loaded = self._counted(export, state)
        if loaded is None:
            return "refused"
        why = "export changed" if changed else ("agreements not served" if unserved else "runs wait for our upload")
        # Only the agreements that need it: one that keeps failing (a run refused before its epoch, say) must
        # not start new runs of the others every cycle.
        return self._map(remote, state, export, loaded, why, sorted(set(unserved) | set(waiting)))

    def _export(self) -> Export | None:
        watch = self.settings.watch
        path = newest_export(watch)
        if path is None:
            self._note("export", "none", file=str(watch), why=f"no CSV, Parquet or XLSX export at {watch} yet")
            return None
        snap = snapshot(path)
        if snap in self._digests:
            return Export(snap, self._digests[snap])
        still = settled(path, self.settings.settle, self.stop.wait)
        if still is None:
            if not self.stop.is_set():
                self.log.emit("export", "unsettled", file=str(path), why="still being written; tried again next cycle")
            return None
        digest = content_digest(path)
        if snapshot(path) != still:
            self.log.emit("export", "unsettled", file=str(path), why="changed while hashed; tried again next cycle")
            return None
        self._digests = {still: digest}
        self.log.emit("export", "seen", file=str(path), bytes=still.size, digest=digest[:16])
        return Export(still, digest)

    def _counted(self, export: Export, state: AgentState) -> LoadResult | None:
        """The export read (domain keys, no columns kept) if it may be mapped; None, said why, if not."""
        path = export.snap.path
        try:
            loaded: LoadResult | None = self.load(path, False, False)
        except EmptyInput:
            loaded = None  # no data rows: a shrink to nothing, judged below
        except InputError as exc:
            self._refuse(export, "input_error", str(exc))
            return None
        count = len(loaded.accounts) if loaded is not None else 0
        if snapshot(path) != export.snap:
            self.log.emit("export", "unsettled", file=str(path), why="changed while read; tried again next cycle")
            return None
        if export.digest != state.export_digest and not self.settings.allow_shrink:
            why = shrink_refusal(str(path), state.export_accounts, count, self.settings.max_shrink)
            if why is not None:
                self._refuse(export, "shrink_refused", why, accounts=count, previous_accounts=state.export_accounts)
                return None
        if loaded is None or count == 0:
            self._refuse(export, "input_error", f"{path}: no accounts to map (the file has no usable data rows)")
            return None
        return loaded

    def _refuse(self, export: Export, action: str, why: str, **fields: object) -> None:
        self._refused[export.digest] = why
        self.log.emit(action, "refused", file=str(export.snap.path), why=why, **fields)

    def _map(
        self, remote: Remote, state: AgentState, export: Export, counted: LoadResult, why: str, agreements: list[str]
    ) -> str:
        path, started = export.snap.path, time.monotonic()
        self.log.emit("map_all", "started", file=str(path), accounts=len(counted.accounts), why=why, agreements=agreements)

        def load(name_key: bool, keep_fields: bool) -> LoadResult:
            # The read that counted the accounts serves the agreements that need no more than it kept.
            return counted if not name_key and not keep_fields else self.load(path, name_key, keep_fields)

        # No wait here: map_all's cannot be cut short, and a stop signal should not sit out --wait seconds.
        # The cycle waits for these runs itself (Syncer.wait_for_runs), looking at the stop flag between polls.
        # A change that removes too much of what stands is refused per agreement, as the export shrink is for the file.
        max_removed = None if self.settings.allow_shrink else self.settings.max_shrink
        result = map_all(ScopedRemote(remote, agreements), self.profile, load, self.settings.chunk_points, 0.0, max_removed)
        for outcome in result.outcomes:
            self._log_outcome(outcome)
        self.collecting = {o.run_id for o in result.outcomes if o.state == "collecting"}
        self._remember(state, export, len(counted.accounts), result)
        failed = [o.agreement_id for o in result.outcomes if o.state == "failed"]
        self.log.emit(
            "map_all",
            "partial" if failed else "ok",
            file=str(path),
            accounts=len(counted.accounts),
            failed=failed,
            duration_s=round(time.monotonic() - started, 3),
        )
        return "partial" if failed else "ok"

    def _log_outcome(self, o: Outcome) -> None:
        total = o.view["totals"]["overlap"] if o.view is not None else None
        self.log.emit(
            "map", o.state, agreement_id=o.agreement_id, partner=o.partner, run_id=o.run_id,
            accounts=o.accounts or None, overlap=total, waiting_for=list(o.waiting_for), why=o.reason, sent=o.upload,
        )  # fmt: skip
        for sent in (o.view or {}).get("alerts", []):
            log_alert(self.log, sent)

    def _remember(self, state: AgentState, export: Export, accounts: int, result: MapAllResult) -> None:
        """The export is the new baseline once some agreement took it; the agreements that did not are tried again."""
        served = [o.agreement_id for o in result.outcomes if o.state in SERVED]
        if not served:
            return
        if export.digest == state.export_digest:
            served = sorted(set(served) | set(state.mapped_agreements))
        state.export_path, state.export_digest, state.export_accounts = str(export.snap.path), export.digest, accounts
        state.mapped_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        state.mapped_agreements = served
        state.save(self.profile.path)

    def _note(self, action: str, outcome: str, **fields: str) -> None:
        key = f"{action}:{outcome}:{fields}"
        if key != self._said:
            self._said = key
            self.log.emit(action, outcome, **fields)


def log_alert(log: ActionLog, sent: dict[str, object]) -> None:
    """One line per alert delivery (or the one error that kept alerts from being sent)."""
    log.emit(
        "alert", str(sent.get("status", "")), agreement_id=sent.get("agreement_id"), run_id=sent.get("run_id"),
        receiver_id=sent.get("receiver_id"), delivery_id=sent.get("delivery_id"), attempts=sent.get("attempts"),
        error=sent.get("error"),
    )  # fmt: skip
