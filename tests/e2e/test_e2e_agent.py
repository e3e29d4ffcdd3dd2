"""The agent end to end: a coordinator and `cleanroom-client agent` processes over mTLS, and real webhook
receivers on loopback.

The partner's agent watches its one export; the vendor's agent watches a directory its CRM drops exports
into. Every expected number is computed below from how the files were built (set arithmetic over the
domains), not by the code under test: the first export maps and its release arrives; a changed export
(five accounts added that the partner has, three dropped) makes the receiver get exactly the changed cells,
signed (and a receiver that was down gets the same delivery in a later cycle); an agreement the exports
cannot serve fails alone, retried without re-running the other; the coordinator killed and restarted
mid-watch is waited out with backoff; an export shrunk to its header is refused with the reason and nothing
is sent; SIGTERM ends the agents with exit 0 and a last line, also mid-wait; --once exits 1 on a refusal.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client_json
from tests.webhooks import Receiver, verify

pytestmark = pytest.mark.e2e

HEADER = ["Account Name", "Website", "Type"]
FAST = ["--interval", "0.3s", "--settle", "0.1", "--backoff-base", "0.2s", "--backoff-cap", "1s"]


class AgentProcess:
    """A `cleanroom-client agent` subprocess; its JSON lines read as they come."""

    def __init__(self, profile: Path, watch: Path, log_dir: Path, wait: str) -> None:
        self.stderr = open(log_dir / f"{profile.name}-agent.stderr", "w")  # noqa: SIM115 (closed in stop)
        argv = [*CLIENT, "--profile", str(profile), "agent", "--watch", str(watch), "--wait", wait, *FAST]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.lines: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = json.loads(raw)  # every line is JSON: a line that is not fails the reader (and the test)
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait_for(self, match: Callable[[dict[str, Any]], bool], since: int = 0, timeout: float = 40.0) -> tuple[int, dict]:
        """The index and the first line from ``since`` on that ``match``es; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(since, len(self.lines)):
                    if match(self.lines[i]):
                        return i, self.lines[i]
                left = deadline - time.monotonic()
                assert left > 0 and self.proc.poll() is None, f"no such line; agent said: {self.lines[since:]}"
                self._cond.wait(left)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.stderr.close()
        return code


def _write(path: Path, rows: list[tuple[str, str]], mtime: float) -> Path:
    """An export as CRM jobs write them: aside, then renamed into place, with a known modification time."""
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows([f"{d.split('.')[0].upper()} Corp", f"https://www.{d}", stage] for d, stage in rows)
    os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)
    return path


def _d(prefix: str, lo: int, hi: int) -> list[str]:
    return [f"{prefix}{i}.com" for i in range(lo, hi)]


CUST, OPP = "Customer", "Opportunity"
PARTNER = [(d, CUST) for d in _d("a", 0, 30) + _d("b", 0, 20) + _d("n", 0, 5)] + [
    (d, OPP) for d in _d("a", 30, 40) + _d("b", 20, 28) + _d("theirs", 0, 10)
]
VENDOR_1 = [(d, CUST) for d in _d("a", 0, 40) + _d("solo", 0, 20)] + [(d, OPP) for d in _d("b", 0, 30)]
# Three accounts dropped (a0-a2, partner customers) and five added (n0-n4, partner customers).
VENDOR_2 = [(d, CUST) for d in _d("a", 3, 40) + _d("solo", 0, 20)] + [(d, OPP) for d in _d("b", 0, 30) + _d("n", 0, 5)]


def _truth(vendor: list[tuple[str, str]], partner: list[tuple[str, str]]) -> dict[str, Any]:
    """The vendor's view of the overlap, by set arithmetic over the files' domains (one population each)."""
    ours, theirs = dict(vendor), dict(partner)
    both = ours.keys() & theirs.keys()
    cells = Counter((ours[d].lower(), theirs[d].lower()) for d in both)
    return {"cells": dict(cells), "mine": len(ours), "theirs": len(theirs), "overlap": len(both)}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """What an alert on ``before`` -> ``after`` must carry: every cell and total that changed, as text."""
    pairs = sorted(set(before["cells"]) | set(after["cells"]))
    cells = [
        {"name": f"{m} x {t}", "before": str(before["cells"].get((m, t), 0)), "after": str(after["cells"].get((m, t), 0))}
        for m, t in pairs
        if before["cells"].get((m, t), 0) != after["cells"].get((m, t), 0)
    ]
    totals = [
        {"name": k, "before": str(before[k]), "after": str(after[k])}
        for k in ("mine", "theirs", "overlap")
        if before[k] != after[k]
    ]
    return cells, totals


def _retried(vendor: AgentProcess, down: Receiver, added: dict[str, str]) -> None:
    """The receiver that was down got the same delivery again in a later cycle, signed each time, accepted at last."""
    for_it = [x for x in vendor.lines if x["action"] == "alert" and x["receiver_id"] == added["id"]]
    assert [x["outcome"] for x in for_it] == ["pending", "delivered"] and for_it[0]["attempts"] == 3
    assert for_it[0]["delivery_id"] == for_it[1]["delivery_id"]
    assert len(down.requests) == 4 and {h["webhook-id"] for h, _ in down.requests} == {for_it[0]["delivery_id"]}
    assert all(verify(added["secret"], h, b) for h, b in down.requests)
    assert len({b for _, b in down.requests}) == 1


def _uploads(profile: Path) -> int:
    return sum(e["type"] == "upload" for e in client_json(profile, "receipts")["receipts"])


def test_agent_maps_changed_exports_alerts_refuses_a_shrink_and_survives_a_restart(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord").init().start()
    agents: list[AgentProcess] = []
    try:
        profiles = {n: coord.add_party(n, tmp_path / n) for n in ("vendor", "partner", "partner-c")}
        # Continuous (always-on): after the first run, each export the agents pick up is sent as a change.
        proposed = client_json(
            profiles["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer,opportunity",
            "--continuous", "--epoch", "1s",
        )  # fmt: skip
        agreement_id = proposed["agreement_id"]
        client_json(profiles["partner"], "agreement", "approve", agreement_id)
        # An agreement the vendor's exports can never serve (its terms share a column they lack): it fails, alone.
        broken = client_json(
            profiles["vendor"], "agreement", "propose", "--with", "partner-c", "--populations", "customer,opportunity",
            "--reveal", "opportunity:customer", "--reveal-to", "them", "--share", "Deal Desk Notes",
        )["agreement_id"]  # fmt: skip
        client_json(profiles["partner-c"], "agreement", "approve", broken)
        hook = Receiver()
        secret = client_json(profiles["vendor"], "alerts", "add", "--url", hook.url, "--format", "json")["secret"]
        # Down for the release's three attempts (500s): the delivery stays pending; a later cycle sends it.
        down = Receiver([500, 500, 500])
        added = client_json(profiles["vendor"], "alerts", "add", "--url", down.url, "--format", "json")
        _run(coord, profiles, (agreement_id, broken), hook, secret, tmp_path, agents)
        _retried(agents[1], down, added)
    finally:
        for agent in agents:
            if agent.proc.poll() is None:
                agent.proc.kill()
        coord.stop()


def _run(
    coord: LocalCoordinator,
    profiles: dict[str, Path],
    ids: tuple[str, str],
    hook: Receiver,
    secret: str,
    work: Path,
    agents: list,
) -> None:
    agreement_id, broken = ids

    def mapped_in(agreement: str) -> Callable[[dict[str, Any]], bool]:
        return lambda x: x["action"] == "map" and x["agreement_id"] == agreement

    def released_in(agreement: str) -> Callable[[dict[str, Any]], bool]:
        """The release arrived: with the map (the run completed at once), or by a later sync of the cycle."""
        return lambda x: (
            x.get("agreement_id") == agreement
            and (
                (x["action"] == "map" and x["outcome"] == "complete") or (x["action"] == "release" and x["outcome"] == "received")
            )
        )

    exports = work / "exports"
    exports.mkdir()
    t0 = time.time() - 3600
    partner_file = _write(work / "partner.csv", PARTNER, t0)
    # The vendor's maps wait (up to 20 s) for the partner's agent to re-blind; the partner's hardly wait, so that
    # its agent goes on cycling (and re-blinding) while the vendor's runs collect.
    partner = AgentProcess(profiles["partner"], partner_file, work, wait="1")
    vendor = AgentProcess(profiles["vendor"], exports, work, wait="20")
    agents += [partner, vendor]
    partner.wait_for(lambda x: x["action"] == "map" and x["outcome"] == "collecting")  # its points wait for the vendor
    vendor.wait_for(lambda x: x["action"] == "export" and x["outcome"] == "none")

    # 1. The first export: mapped into the partner's run, the release arrives (nothing to compare it with: no alert).
    first = _truth(VENDOR_1, PARTNER)
    _write(exports / "accounts-1.csv", VENDOR_1, t0 + 10)
    _, mapped = vendor.wait_for(mapped_in(agreement_id))
    assert mapped["outcome"] in ("collecting", "complete") and mapped["accounts"] == first["mine"] == 90, mapped
    assert mapped["sent"] == {"sent": "every account", "reason": "first run of this continuous agreement"}
    i, got = vendor.wait_for(released_in(agreement_id))
    assert got["run_id"] == mapped["run_id"] and got["overlap"] == first["overlap"] == 68
    first_run = mapped["run_id"]
    assert hook.requests == []
    # The broken agreement fails with the reason, and is tried again next cycle alone: the good one is not re-run.
    _, failed = vendor.wait_for(mapped_in(broken))
    assert failed["outcome"] == "failed" and "Deal Desk Notes" in failed["why"] and "run_id" not in failed
    j, retried = vendor.wait_for(lambda x: x["action"] == "map_all" and x.get("why") == "agreements not served", i + 1)
    assert retried["agreements"] == [broken]
    assert vendor.wait_for(mapped_in(broken), j + 1)[1]["outcome"] == "failed"
    assert [x["run_id"] for x in vendor.lines if mapped_in(agreement_id)(x)] == [first_run]

    # 2. A changed export: the partner's agent uploads into the vendor's new run; the alert carries exactly the changes.
    second = _truth(VENDOR_2, PARTNER)
    _write(exports / "accounts-2.csv", VENDOR_2, t0 + 20)
    # 1-second epochs: a cycle that comes within the first release's epoch is refused (one release per epoch)
    # and the agent maps it again a cycle later; the map that joined a run is the one to look at.
    start = i + 1
    i, mapped = vendor.wait_for(lambda x: mapped_in(agreement_id)(x) and "run_id" in x, start)
    early = [x for x in vendor.lines[start:i] if mapped_in(agreement_id)(x)]
    assert all(x["outcome"] == "failed" and "the next run can start at" in x.get("why", "") for x in early), early
    assert mapped["run_id"] != first_run and mapped["accounts"] == second["mine"] == 92
    # Only the change went: the accounts added and dropped, counted from the two exports.
    added, dropped = (
        len({d for d, _ in VENDOR_2} - {d for d, _ in VENDOR_1}),
        len({d for d, _ in VENDOR_1} - {d for d, _ in VENDOR_2}),
    )
    assert mapped["sent"] == {"sent": "changes", "base_run_id": first_run, "added": added, "removed": dropped, "moved": 0}
    assert (added, dropped) == (5, 3)
    i, got = vendor.wait_for(released_in(agreement_id), i)
    assert got["run_id"] == mapped["run_id"] and got["overlap"] == second["overlap"] == 70
    i, sent = vendor.wait_for(lambda x: x["action"] == "alert" and x["outcome"] == "delivered", i + 1)
    assert sent["outcome"] == "delivered" and sent["run_id"] == mapped["run_id"]
    assert len(hook.requests) == 1
    headers, body = hook.requests[0]
    assert verify(secret, headers, body)
    assert not verify(secret, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}, body)
    alert = json.loads(body)
    cells, totals = _changes(first, second)
    assert alert["previous_run_id"] == first_run and alert["run_id"] == mapped["run_id"]
    assert alert["cells"] == cells and alert["totals"] == totals
    assert cells == [  # the numbers, written out: a0-a2 left (customer x customer), n0-n4 came (opportunity x customer)
        {"name": "customer x customer", "before": "30", "after": "27"},
        {"name": "opportunity x customer", "before": "20", "after": "25"},
    ]
    partner_uploads = partner.wait_for(lambda x: x["action"] == "map" and x.get("run_id") == mapped["run_id"])[1]
    assert partner_uploads["outcome"] in ("collecting", "complete")  # it mapped because the vendor's run waited for it

    # 3. The coordinator dies and comes back: the agents back off (never exit), then a cycle goes through.
    coord.stop(kill=True)
    i, backoff = vendor.wait_for(lambda x: x["action"] == "backoff", i + 1)
    assert "cannot reach the coordinator" in backoff["error"] and 0 <= backoff["delay_s"] <= 1.0
    i, _ = vendor.wait_for(lambda x: x["action"] == "backoff" and x["attempt"] >= 2, i + 1)
    coord.start()
    i, recovered = vendor.wait_for(lambda x: x["action"] == "cycle" and x["outcome"] != "unavailable", i + 1)
    # The export was mapped already: nothing to send again but the broken agreement's retry, which fails alone.
    assert recovered["outcome"] == "partial"
    assert partner.proc.poll() is None and vendor.proc.poll() is None

    # 4. An export shrunk to its header: refused, said why (file, counts, the flag), nothing sent.
    uploads = _uploads(profiles["vendor"])
    shrunk = _write(exports / "accounts-3.csv", [], t0 + 30)
    i, refused = vendor.wait_for(lambda x: x["action"] == "shrink_refused", i + 1)
    assert refused["outcome"] == "refused" and refused["file"] == str(shrunk)
    assert refused["accounts"] == 0 and refused["previous_accounts"] == second["mine"] == 92
    assert (
        str(shrunk) in refused["why"]
        and "--allow-shrink" in refused["why"]
        and "92" in refused["why"]
        and "no accounts" in refused["why"]
    )
    vendor.wait_for(lambda x: x["action"] == "cycle", i + 1)
    i, _ = vendor.wait_for(lambda x: x["action"] == "cycle", i + 1)  # a further cycle: refused once, not again
    assert sum(x["action"] == "shrink_refused" for x in vendor.lines) == 1
    assert _uploads(profiles["vendor"]) == uploads
    status = client_json(profiles["vendor"], "sync", agreement_id)["agreements"][0]
    assert status["run_id"] == mapped["run_id"] and status["state"] == "complete"  # no run started since
    state = json.loads((profiles["vendor"] / "agent.json").read_text())
    assert state["export_accounts"] == 92 and state["export_path"].endswith("accounts-2.csv")
    assert oct((profiles["vendor"] / "agent.json").stat().st_mode & 0o777) == "0o600"

    # 5. SIGTERM: a last line, exit 0.
    for agent in (vendor, partner):
        assert agent.stop() == 0
        assert agent.lines[-1]["action"] == "stop" and agent.lines[-1]["outcome"] == "ok"
        assert agent.lines[-1]["signal"] == "SIGTERM"
    assert all({"ts", "action", "outcome"} <= set(x) for x in vendor.lines + partner.lines)

    # 6. --once (cron): one cycle, exit 1 when it did not go through (the shrunk export, refused again: a new process).
    once = subprocess.run(
        [*CLIENT, "--profile", str(profiles["vendor"]), "agent", "--once", "--watch", str(exports), *FAST],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lines = [json.loads(line) for line in once.stdout.splitlines()]
    assert once.returncode == 1, once.stderr
    assert [x["action"] for x in lines if x["action"] in ("shrink_refused", "stop")] == ["shrink_refused", "stop"]
    assert _uploads(profiles["vendor"]) == uploads

    # 7. SIGTERM while a run waits for a partner that is gone (--wait 600): the wait is cut short at its next
    # poll, and what was sent is whole (the upload committed, its receipt kept), exit 0.
    _write(exports / "accounts-4.csv", VENDOR_1, t0 + 40)
    waiting = AgentProcess(profiles["vendor"], exports, work, wait="600")
    agents.append(waiting)
    _, joined = waiting.wait_for(mapped_in(agreement_id))
    assert joined["outcome"] == "collecting" and joined["accounts"] == 90
    assert waiting.stop() == 0  # within AgentProcess.stop's 60 s, not the 600 s wait
    assert waiting.lines[-1]["action"] == "stop" and waiting.lines[-1]["outcome"] == "ok"
    assert _uploads(profiles["vendor"]) == uploads + 1
