"""End-to-end mapping throughput: two clients through a real coordinator on loopback.

    .venv/bin/python benchmarks/e2e_bench.py [--n 200000] [--json]

Generates two exports with N accounts each (not timed), then times, as
separate processes over mTLS gRPC: both clients running `map` at once (read,
normalise, hash, blind, upload, re-blind the peer's points, join, release).
Prints accounts/s, each process's peak memory (process tree: the client and
its blinding workers), and the ratio to the X25519 floor measured in the same
run: 4 scalar multiplications per account pair (each side blinds its own and
the peer's points) on every core at the raw `cryptography` single-core rate.

Target (issue 3): end-to-end within 1.5x of that floor; every process under
1 GB at 1,000,000 accounts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cleanroom.localrun import CLIENT, LocalCoordinator, client_json
from cleanroom.psi import default_workers, hash_to_points

TARGET = 1.5


def raw_rate(n: int = 30_000) -> float:
    """Raw single-core X25519 rate through `cryptography` (exchange per point)."""
    points = hash_to_points([f"floor-{i}.example" for i in range(n)], b"floor")
    exchange = X25519PrivateKey.generate().exchange
    from_bytes = X25519PublicKey.from_public_bytes
    t0 = time.perf_counter()
    for i in range(0, len(points), 32):
        exchange(from_bytes(points[i : i + 32]))
    return n / (time.perf_counter() - t0)


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory(threading.Thread):
    """Polls peak RSS (VmHWM) of a process and, separately, the largest of its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.main_kb, self.worker_kb = pid, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.main_kb = max(self.main_kb, _rss_kb(self.pid))
            for p in _tree(self.pid)[1:]:
                self.worker_kb = max(self.worker_kb, _rss_kb(p))
            self.stop.wait(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="accounts per side")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="cleanroom-e2e-bench-"))
    say(f"generating 2 x {args.n:,} accounts in {work} ...")
    data = json.loads(subprocess.run(
        [*CLIENT, "synth", "--out", str(work / "data"), "--vendor-accounts", str(args.n), "--partner-accounts", str(args.n),
         "--overlap", str(args.n // 4), "--json"],
        capture_output=True, text=True, check=True,
    ).stdout)
    truth = json.loads(Path(data["ground_truth"]).read_text())
    coord = LocalCoordinator(work / "coord", max_points=4 * args.n + 1000).init().start()
    try:
        profiles = {n: coord.add_party(n, work / n) for n in ("vendor", "partner")}
        agreement = client_json(profiles["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer,prospect,opportunity")
        client_json(profiles["partner"], "agreement", "approve", agreement["agreement_id"])
        say("mapping ...")
        coord_mem = PeakMemory(coord.process.pid)
        coord_mem.start()
        t0 = time.perf_counter()
        procs, mems = {}, {}
        for name in ("vendor", "partner"):
            procs[name] = subprocess.Popen(
                [*CLIENT, "--profile", str(profiles[name]), "map", agreement["agreement_id"], data[name], "--wait", "3600", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            mems[name] = PeakMemory(procs[name].pid)
            mems[name].start()
        views = {}
        for name, proc in procs.items():
            out, err = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"{name} failed: {err}")
            views[name] = json.loads(out)
        elapsed = time.perf_counter() - t0
        for m in (*mems.values(), coord_mem):
            m.stop.set()
    finally:
        coord.stop()
    say("measuring the raw X25519 floor ...")
    rate = raw_rate()
    cores = default_workers()
    accounts = truth["vendor_accounts"] + truth["partner_accounts"]
    floor = 2 * accounts / (cores * rate)  # 4 multiplications per account pair = 2 per account
    result = {
        "accounts_per_side": args.n,
        "accounts_mapped": accounts,
        "overlap": views["vendor"]["totals"]["overlap"],
        "overlap_truth": truth["overlap"],
        "seconds": round(elapsed, 2),
        "accounts_per_second": round(accounts / elapsed),
        "raw_x25519_single_core_per_s": round(rate),
        "cores": cores,
        "floor_seconds": round(floor, 2),
        "ratio_to_floor": round(elapsed / floor, 2),
        "target_ratio": TARGET,
        "peak_rss_mb": {
            **{f"{n}_client": round(m.main_kb / 1024) for n, m in mems.items()},
            **{f"{n}_largest_worker": round(m.worker_kb / 1024) for n, m in mems.items()},
            "coordinator": round(coord_mem.main_kb / 1024),
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")
    return 0 if result["overlap"] == truth["overlap"] else 1


if __name__ == "__main__":
    sys.exit(main())
