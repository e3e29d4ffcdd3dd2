"""``cleanroom-client agent``: keep the party current, unattended.

Each cycle, over a fresh connection to the coordinator:

1. sync: re-blind every partner point that waits for us (``sync_agreements``), and evaluate the deal-registration
   checks queued on the programs we run (agent_registrations.py);
2. map: when the watched export is new or changed (by content digest), an active agreement has not taken
   it yet, or a partner's run waits for our upload, map it under the agreements that need it (``map_all``),
   unless it is still being written, unreadable, or shrank by more than ``max_shrink`` (agent_mapping.py);
   then sync for up to ``wait`` seconds while the runs it joined collect (a stop signal cuts that short);
3. releases: receive the overlap of every complete run the receipts do not hold, alerting on changes;
   alert deliveries still pending (a receiver that was down) are tried again.

The coordinator unreachable (restarting, network down) is never fatal: the cycle is tried again after an
exponential backoff with full jitter (backoff.py), reset by the next cycle that reaches it. Anything else
our code refuses (a bad export, an agreement whose terms do not check, a run started before its epoch:
FAILED_PRECONDITION) is logged and tried again next cycle. One JSON line per action on stdout (agent_log.py).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass

from cleanroom.errors import CleanroomError
from cleanroom_client.features.agent_log import ActionLog
from cleanroom_client.features.agent_mapping import FileLoader, Mapper, MapSettings
from cleanroom_client.features.agent_registrations import serve_registrations
from cleanroom_client.features.agent_releases import TRANSIENT, Syncer
from cleanroom_client.features.agent_state import AgentState
from cleanroom_client.features.agent_stop import StopFlag
from cleanroom_client.features.backoff import Backoff
from cleanroom_client.profile import Profile
from cleanroom_client.remote import Remote


@dataclass(frozen=True)
class AgentConfig:
    mapping: MapSettings
    interval: float = 900.0  # seconds between cycles that reached the coordinator
    once: bool = False
    backoff_base: float = 1.0
    backoff_cap: float = 300.0


class Agent:
    def __init__(self, profile: Profile, config: AgentConfig, load: FileLoader, log: ActionLog, stop: StopFlag) -> None:
        self.profile, self.config, self.log, self.stop = profile, config, log, stop
        self.state = AgentState.load(profile.path)
        self.backoff = Backoff(config.backoff_base, config.backoff_cap)
        self.mapper = Mapper(profile, config.mapping, load, log, stop)
        self.syncer = Syncer(profile, log)
        self.cycles = 0

    def run(self) -> int:
        """Cycle until stopped (or once); 0 on a clean stop, and with ``once`` 0 only if the cycle went through."""
        c = self.config
        self.log.emit(
            "start", "ok", party=self.profile.party, watch=str(c.mapping.watch), interval_s=c.interval, once=c.once or None,
            pid=os.getpid(), last_export=self.state.export_path, last_accounts=self.state.export_accounts,
        )  # fmt: skip
        outcome = "stopped"
        try:
            while not self.stop.is_set():
                outcome, delay = self.guarded_cycle()
                if c.once or self.stop.wait(delay):
                    break
        except Exception as exc:  # a bug: said on the log too, then the traceback (systemd restarts us)
            self.log.emit("stop", "crashed", cycles=self.cycles, error=f"{type(exc).__name__}: {exc}")
            raise
        except KeyboardInterrupt:
            self.log.emit("stop", "abandoned", cycles=self.cycles, why="a second stop signal: the step in progress was cut short "
                          "(an upload not committed counts for nothing and resumes on the next start)")  # fmt: skip
            return 130
        self.log.emit("stop", "ok", cycles=self.cycles, signal=self.stop.signal_name, last_cycle=outcome)
        return 0 if not c.once or outcome in ("ok", "idle") else 1

    def guarded_cycle(self) -> tuple[str, float]:
        """One cycle; its outcome and how long to wait before the next. Only bugs escape."""
        started = time.monotonic()
        self.cycles += 1
        try:
            outcome = self.cycle()
        except TRANSIENT as exc:
            if self.config.once:  # no next try to wait for: say why this one did not go through
                self.log.emit("error", "unavailable", error=str(exc))
                return self._ended("unavailable", started), 0.0
            delay = self.backoff.next_delay()
            self.log.emit("backoff", "unavailable", error=str(exc), attempt=self.backoff.failures, delay_s=round(delay, 3))
            return self._ended("unavailable", started), delay
        except CleanroomError as exc:  # the coordinator answered, or the export is at fault: next cycle, as usual
            self.log.emit("error", type(exc).__name__, error=str(exc))
            outcome = "error"
        except OSError as exc:  # the export vanished mid-read, a directory unreadable: next cycle
            self.log.emit("error", "os_error", error=f"{exc.filename or ''}: {exc.strerror or exc}")
            outcome = "error"
        self.backoff.reset()
        return self._ended(outcome, started), self.config.interval

    def cycle(self) -> str:
        """sync, map if due, receive releases; the cycle's outcome: ok | idle | refused | partial."""
        with Remote(self.profile) as remote:
            active = sorted(a.agreement_id for a in remote.list() if a.state == "active")  # unreachable: raised here
            report = self.syncer.sync(remote, active)
            serve_registrations(remote, self.profile, self.log)
            waiting = self.syncer.waiting_for_us(remote, report)
            if self.stop.is_set():
                return "idle"
            outcome = self.mapper.step(remote, self.state, active, waiting)
            if outcome == "partial":
                remote.list()  # agreements failed: if the coordinator went away meanwhile, back off (raises)
            if self.mapper.collecting and not self.stop.is_set():
                report = self.syncer.wait_for_runs(remote, active, self.mapper.collecting, self.config.mapping.wait, self.stop)
            if not self.stop.is_set() and not self.syncer.receive_releases(remote, report):
                self.syncer.retry_alerts()  # (receiving a release sent what was pending already)
        return outcome

    def _ended(self, outcome: str, started: float) -> str:
        took = round(time.monotonic() - started, 3)
        self.state.last_cycle = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "outcome": outcome}
        try:
            self.state.save(self.profile.path)
        except OSError as exc:
            self.log.emit("error", "os_error", error=f"agent state not saved: {exc}")
        self.log.emit("cycle", outcome, cycle=self.cycles, duration_s=took)
        return outcome
