"""Continuous mapping: the incremental cycle after 1% of each side changed, against the full run.

    .venv/bin/python benchmarks/incremental_bench.py [--n 1000000] [--data DIR] [--keep] [--json]

Generates two exports of N accounts (not timed). On a continuous agreement (1-second epochs), both
clients map at once: the full first run (timed). Then each export changes by 1% of its rows (not timed):
0.5% added (half of them accounts the other side adds too), 0.3% removed, 0.2% moved to another
population; and both clients map the changed files at once (the incremental cycle, timed). Last, a
one-off agreement maps the changed files in full (timed): the same data through the full path, whose
matrix the incremental release must equal, and the full-run time the target is measured against.

Target (issue 14): the incremental cycle within 5% of the full run's time, with the matrix equal to
the changed files' full run. Peak memory of every process is printed (target under 1 GB).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import MEMORY_TARGET_MB, Watch, _generate, in_workdir, report

TARGET = 0.05
ADDED, REMOVED, MOVED = 0.005, 0.003, 0.002
# The population column of each generated export, and a stage to move a row to (another population).
STAGE_COLUMN = {"vendor": "Type", "partner": "Lifecycle Stage"}
DOMAIN_COLUMN = {"vendor": "Website", "partner": "Company Domain Name"}


def _moved(stage: str) -> str:
    return "Opportunity" if stage.lower().startswith("customer") else "Customer"


def change_file(source: Path, out: Path, side: str, seed: int) -> dict[str, int]:
    """A copy of ``source`` with 1% of its rows changed; what changed (rows)."""
    rng = random.Random(seed)
    with open(source, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    n = len(rows)
    stage, domain = header.index(STAGE_COLUMN[side]), header.index(DOMAIN_COLUMN[side])
    picked = rng.sample(range(n), int(n * (REMOVED + MOVED)))
    removed, moved = set(picked[: int(n * REMOVED)]), picked[int(n * REMOVED) :]
    for i in moved:
        rows[i][stage] = _moved(rows[i][stage])
    kept = [r for i, r in enumerate(rows) if i not in removed]
    added = int(n * ADDED)
    for i in range(added):
        row = list(rng.choice(kept))
        # Half the new accounts are new on both sides (they add to the overlap), half only on this one.
        row[domain] = f"bothnew{i}.com" if i < added // 2 else f"{side}new{i}.com"
        if side == "partner":
            row[header.index("Website URL")] = ""
        else:
            row[header.index("Website")] = row[domain]
        kept.append(row)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(kept)
    return {"rows_added": added, "rows_removed": len(removed), "rows_moved": len(moved)}


def _map_both(
    profiles: dict[str, Path], agreement_id: str, files: dict[str, str], coordinator_pid: int
) -> tuple[float, dict[str, dict], dict[str, Watch]]:
    """Both clients map at once; wall seconds, their JSON outputs, their watches (memory and CPU; the
    coordinator's too, as "coordinator")."""
    t0 = time.perf_counter()
    procs, watches = {}, {"coordinator": Watch(coordinator_pid)}
    for name in ("vendor", "partner"):
        procs[name] = subprocess.Popen(
            [*CLIENT, "--profile", str(profiles[name]), "map", agreement_id, files[name], "--wait", "3600", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watches[name] = Watch(procs[name].pid)
    views = {}
    while len(views) < len(procs):  # whichever ends first: a client that fails must not leave us waiting on the other
        for name, proc in procs.items():
            if name in views or proc.poll() is None:
                continue
            out, err = proc.communicate()
            if proc.returncode:
                for other in procs.values():
                    other.kill()
                log = profiles[name].parent / "coord" / "coordinator.log"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-80:]) if log.exists() else ""
                raise SystemExit(f"{name} failed: {err}\ncoordinator log (last lines):\n{tail}")
            views[name] = json.loads(out)
        time.sleep(0.005)  # the timer stops within 5 ms of the last exit (0.05 s of slop in a 4 s cycle was too much)
    elapsed = time.perf_counter() - t0
    for w in watches.values():
        w.close()
    return elapsed, views, watches


def _matrix(view: dict) -> dict:
    return {"cells": {f"{c['mine']} x {c['theirs']}": c["count"] for c in view["cells"]}, "totals": view["totals"]}


def _bench(n: int, data: dict, work: Path, say) -> dict:
    truth = json.loads(Path(data["ground_truth"]).read_text())
    coord = LocalCoordinator(work / "coord", max_points=4 * n + 1000).init().start()
    try:
        profiles = {name: coord.add_party(name, work / name) for name in ("vendor", "partner")}
        pops = "customer,prospect,opportunity"
        ids = {}
        for kind, extra in (("continuous", ["--continuous", "--epoch", "1s"]), ("one-off", [])):
            proposed = client_json(profiles["vendor"], "agreement", "propose", "--with", "partner", "--populations", pops, *extra)
            client_json(profiles["partner"], "agreement", "approve", proposed["agreement_id"])
            ids[kind] = proposed["agreement_id"]
        coord_watch = Watch(coord.process.pid)
        say("full run (continuous agreement) ...")
        pid = coord.process.pid
        full, first, watches = _map_both(profiles, ids["continuous"], {k: data[k] for k in ("vendor", "partner")}, pid)
        changed = {side: work / f"{side}-changed.csv" for side in ("vendor", "partner")}
        say("changing 1% of each file ...")
        changes = {side: change_file(Path(data[side]), changed[side], side, seed=i) for i, side in enumerate(changed)}
        os.sync()  # the changed files' writeback (~300 MB) is part of changing them, not of the timed cycle
        time.sleep(1.1)  # the next epoch
        say("incremental cycle ...")
        incremental, second, inc_watches = _map_both(profiles, ids["continuous"], {k: str(v) for k, v in changed.items()}, pid)
        say("full run of the changed files (one-off agreement) ...")
        reference, third, ref_watches = _map_both(profiles, ids["one-off"], {k: str(v) for k, v in changed.items()}, pid)
        coord_watch.close()
    finally:
        coord.stop()
    equal = _matrix(second["vendor"]) == _matrix(third["vendor"]) and _matrix(second["partner"]) == _matrix(third["partner"])
    phases = {"full_run": watches, "incremental": inc_watches, "full_run_of_changed_files": ref_watches}

    def peaks(ws: dict[str, Watch]) -> dict[str, int]:
        clients = {name: w for name, w in ws.items() if name != "coordinator"}
        return {
            **{f"{name}_client": round(w.main_kb / 1024) for name, w in clients.items()},
            **{f"{name}_largest_worker": round(w.worker_kb / 1024) for name, w in clients.items()},
        }

    by_phase = {phase: peaks(ws) for phase, ws in phases.items()}
    # Every phase's peak, not only the first run's: each map is its own process.
    peak = {key: max(p[key] for p in by_phase.values()) for key in by_phase["full_run"]}
    peak["coordinator"] = round(coord_watch.main_kb / 1024)

    def cpu(ws: dict[str, Watch]) -> float:
        return sum(w.cpu_seconds for w in ws.values())

    return {
        "accounts_per_side": n,
        "first_run_overlap": first["vendor"]["totals"]["overlap"],
        "first_run_overlap_truth": truth["overlap"],
        "changes": changes,
        "sent": {name: second[name]["read"]["upload"] for name in second},
        "full_run_seconds": round(full, 2),
        "incremental_seconds": round(incremental, 2),
        "full_run_of_changed_files_seconds": round(reference, 2),
        "incremental_cpu_seconds": {name: round(w.cpu_seconds, 1) for name, w in inc_watches.items()},
        # CPU (both clients with their workers, and the coordinator): the work, less sensitive to other load.
        "cpu_ratio_to_full_run": round(cpu(inc_watches) / cpu(watches), 4),
        "cpu_ratio_to_full_run_of_changed_files": round(cpu(inc_watches) / cpu(ref_watches), 4),
        "ratio_to_full_run": round(incremental / full, 4),
        "ratio_to_full_run_of_changed_files": round(incremental / reference, 4),
        "target_ratio": TARGET,
        "matrix_equals_full_run_of_changed_files": equal,
        "incremental_matrix": _matrix(second["vendor"]),
        "peak_rss_mb": peak,
        "peak_rss_mb_by_phase": by_phase,
        "memory_target_met": all(v < MEMORY_TARGET_MB for v in peak.values()) if n >= 1_000_000 else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="accounts per side (default 1,000,000)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="keep the generated exports here and reuse them")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    result = in_workdir(
        "cleanroom-incremental-bench-", args, say, lambda work, data: _bench(args.n, _generate(args.n, data, say), work, say)
    )
    report(result, args.json)
    ok = result["matrix_equals_full_run_of_changed_files"] and result["first_run_overlap"] == result["first_run_overlap_truth"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
