"""End-to-end mapping throughput: two clients through a real coordinator on loopback.

    .venv/bin/python benchmarks/e2e_bench.py [--n 200000] [--data DIR] [--keep] [--json]

Generates two exports with N accounts each (not timed), then times, as
separate processes over mTLS gRPC: both clients running `map` at once (read,
normalise, hash, blind, upload, re-blind the peer's points, join, release).
Prints accounts/s, each process's peak memory (the client and, separately, the
largest of its blinding workers; the coordinator), the CPU seconds they used,
and the ratio to the X25519 floor measured in the same run.

The floor is the time the scalar multiplications alone take: 4 per account
pair (each side blinds its own points and re-blinds the peer's), at the raw
`cryptography` rate (`exchange(from_public_bytes(p))` in a bare loop) of every
core running at once. It is measured just before and just after the mapping
and the mean is used, so a shared machine's load shows in both sides of the
ratio. Hashing keys to the curve, reading and normalising the files, the
uploads and the join are not in the floor: they are the overhead the ratio
measures.

The clients blind their own hashed keys (half the multiplications) on the fastest X25519 this
machine has (cleanroom/psi/x25519.py: Intel's crypto_mb, eight points a call, where the ``fast``
extra is installed and the CPU has AVX-512 IFMA) and re-blind the partner's points (the other half)
on the same OpenSSL as the floor. So a second floor is printed: the same multiplications at the
rates the clients use, half and half (``own_floor_seconds``); its ratio is the overhead over our own
multiplications, as the first ratio was before crypto_mb.

Targets (issue 16): end-to-end within 1.20x of the floor at 1,000,000 accounts a side and 1.35x at
200,000; every process under 1 GB at 1,000,000 accounts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client_json
from cleanroom.psi import default_workers, hash_to_points, x25519

TARGET_1M, TARGET_SMALL = 1.20, 1.35
MEMORY_TARGET_MB = 1024
TICKS = os.sysconf("SC_CLK_TCK")


def _raw_loop(n: int) -> tuple[float, float]:
    """Raw X25519 rate of one process, `exchange(from_public_bytes(p))` over n points: per wall second, per CPU second."""
    points = hash_to_points([f"floor-{i}.example" for i in range(n)], b"floor")
    exchange = X25519PrivateKey.generate().exchange
    from_bytes = X25519PublicKey.from_public_bytes
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(points), 32):
        exchange(from_bytes(points[i : i + 32]))
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def _own_loop(n: int) -> tuple[float, float]:
    """The clients' X25519 for their own hashed keys (x25519.multiply_own_hashes, whichever implementation
    it picks) over n points: per wall second, per CPU second."""
    points = hash_to_points([f"floor-{i}.example" for i in range(n)], b"floor")
    secret = os.urandom(32)
    t0, c0 = time.perf_counter(), time.process_time()
    x25519.multiply_own_hashes(secret, points)
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def raw_rates(cores: int, n: int = 30_000, loop=_raw_loop) -> tuple[float, float, float]:
    """Raw X25519 multiplications per second: one core alone, all cores at once (wall), and per CPU second."""
    single, per_cpu = loop(n)
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        together = sum(wall for wall, _ in pool.map(loop, [n] * cores))
    return single, together, per_cpu


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (not its children)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


def _children() -> dict[int, list[int]]:
    """parent pid -> child pids, from one pass over /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return children


class Watch:
    """Peak RSS (VmHWM) of a process and of its largest descendant, and the CPU of the whole tree.

    One thread polls every watched tree every 0.2 s with one pass over /proc.
    The blinding workers are children of the client's forkserver, which the
    client does not wait for, so their CPU is read here while they live (the
    last fraction of a second of each process is missed).
    """

    _active: ClassVar[list[Watch]] = []  # every live Watch, shared by the one polling thread
    _lock = threading.Lock()
    _thread: threading.Thread | None = None

    def __init__(self, pid: int, label: str = "") -> None:
        self.pid, self.label, self.main_kb, self.worker_kb = pid, label, 0, 0
        self.cpu: dict[int, float] = {}
        self.cpu_start = _cpu_seconds(pid)
        with Watch._lock:
            Watch._active.append(self)
            if Watch._thread is None:
                Watch._thread = threading.Thread(target=Watch._poll, daemon=True)
                Watch._thread.start()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values()) - self.cpu_start

    def _update(self, children: dict[int, list[int]]) -> None:
        todo, first = [self.pid], True
        while todo:
            p = todo.pop()
            kb = _rss_kb(p)
            if first:
                self.main_kb = max(self.main_kb, kb)
                first = False
            else:
                self.worker_kb = max(self.worker_kb, kb)
            self.cpu[p] = max(self.cpu.get(p, 0.0), _cpu_seconds(p))
            todo.extend(children.get(p, []))

    def close(self) -> None:
        with Watch._lock:
            if self in Watch._active:
                Watch._active.remove(self)
                self._update(_children())

    @staticmethod
    def _poll() -> None:
        while True:
            with Watch._lock:
                if Watch._active:
                    children = _children()
                    for watch in Watch._active:
                        watch._update(children)
            time.sleep(0.2)


def _generate(n: int, out: Path, say) -> dict:
    """The two exports and their ground truth; reused when ``out`` already holds them for this n."""
    index = out / "bench.json"
    if index.exists():
        data = json.loads(index.read_text())
        if data.get("n") == n and all(Path(data[k]).exists() for k in ("vendor", "partner", "ground_truth")):
            say(f"reusing 2 x {n:,} accounts in {out}")
            return data
    say(f"generating 2 x {n:,} accounts in {out} ...")
    data = json.loads(
        subprocess.run(
            [
                *CLIENT,
                "synth",
                "--out",
                str(out),
                "--vendor-accounts",
                str(n),
                "--partner-accounts",
                str(n),
                "--overlap",
                str(n // 4),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    index.write_text(json.dumps({**data, "n": n}))
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="accounts per side (default 200,000)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="keep the generated exports here and reuse them on the next run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (coordinator data, profiles, logs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    result = in_workdir(
        "cleanroom-e2e-bench-", args, say, lambda work, data_dir: _bench(args.n, _generate(args.n, data_dir, say), work, say)
    )
    report(result, args.json)
    return 0 if result["overlap"] == result["overlap_truth"] else 1


def in_workdir(prefix: str, args: argparse.Namespace, say, bench) -> dict:
    """Run ``bench(work, data_dir)`` in a fresh temporary directory, removed afterwards unless ``--keep``."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        data_dir = args.data or work / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        return bench(work, data_dir)
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(result: dict, as_json: bool) -> None:
    """One JSON object for scripts, else one aligned line per figure."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    width = max(map(len, result)) + 2
    for k, v in result.items():
        print(f"{k:{width}} {v}")


def _bench(n: int, data: dict, work: Path, say) -> dict:
    truth = json.loads(Path(data["ground_truth"]).read_text())
    cores = default_workers()
    say("measuring the raw X25519 floor (before) ...")
    single_before, all_before, cpu_before = raw_rates(cores)
    own_before = raw_rates(cores, 4 * 30_000, _own_loop)[1]
    coord = LocalCoordinator(work / "coord", max_points=4 * n + 1000).init().start()
    try:
        profiles = {name: coord.add_party(name, work / name) for name in ("vendor", "partner")}
        agreement = client_json(
            profiles["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer,prospect,opportunity"
        )
        client_json(profiles["partner"], "agreement", "approve", agreement["agreement_id"])
        say("mapping ...")
        coord_mem = Watch(coord.process.pid)
        t0 = time.perf_counter()
        procs, mems, done = {}, {}, {}
        for name in ("vendor", "partner"):
            procs[name] = subprocess.Popen(
                [
                    *CLIENT,
                    "--profile",
                    str(profiles[name]),
                    "map",
                    agreement["agreement_id"],
                    data[name],
                    "--wait",
                    "3600",
                    "--json",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            mems[name] = Watch(procs[name].pid)
        views = {}
        for name, proc in procs.items():
            out, err = proc.communicate()
            done[name] = time.perf_counter() - t0
            if proc.returncode:
                raise SystemExit(f"{name} failed: {err}")
            views[name] = json.loads(out)
        elapsed = time.perf_counter() - t0
        for m in (*mems.values(), coord_mem):
            m.close()
    finally:
        coord.stop()
    say("measuring the raw X25519 floor (after) ...")
    single_after, all_after, cpu_after = raw_rates(cores)
    own_after = raw_rates(cores, 4 * 30_000, _own_loop)[1]
    accounts = truth["vendor_accounts"] + truth["partner_accounts"]
    multiplications = 2 * accounts  # 4 per account pair
    all_cores = (all_before + all_after) / 2
    floor = multiplications / all_cores
    own_floor = multiplications / 2 / ((own_before + own_after) / 2) + multiplications / 2 / all_cores
    client_cpu = {name: m.cpu_seconds for name, m in mems.items()}
    coord_cpu = coord_mem.cpu_seconds
    floor_cpu = multiplications / ((cpu_before + cpu_after) / 2)  # the floor as CPU seconds
    peak = {
        **{f"{name}_client": round(m.main_kb / 1024) for name, m in mems.items()},
        **{f"{name}_largest_worker": round(m.worker_kb / 1024) for name, m in mems.items()},
        "coordinator": round(coord_mem.main_kb / 1024),
    }
    return {
        "accounts_per_side": n,
        "accounts_mapped": accounts,
        "overlap": views["vendor"]["totals"]["overlap"],
        "overlap_truth": truth["overlap"],
        "seconds": round(elapsed, 2),
        "seconds_per_client": {name: round(s, 2) for name, s in done.items()},
        "accounts_per_second": round(accounts / elapsed),
        "cores": cores,
        "raw_x25519_1_core_per_s": [round(single_before), round(single_after)],
        "raw_x25519_all_cores_per_s": [round(all_before), round(all_after)],
        "floor_seconds": round(floor, 2),
        "ratio_to_floor": round(elapsed / floor, 2),
        "target_ratio": TARGET_1M if n >= 1_000_000 else TARGET_SMALL,
        "x25519_backend": x25519.backend(),
        "own_x25519_all_cores_per_s": [round(own_before), round(own_after)],
        "own_floor_seconds": round(own_floor, 2),
        "ratio_to_own_floor": round(elapsed / own_floor, 2),
        # CPU actually used vs the floor's CPU (cores x floor): the overhead as work, less sensitive to other load.
        "cpu_seconds": {
            **{f"{name}_with_workers": round(s, 1) for name, s in client_cpu.items()},
            "coordinator": round(coord_cpu, 1),
        },
        "floor_cpu_seconds": round(floor_cpu, 1),
        "cpu_ratio_to_floor": round((sum(client_cpu.values()) + coord_cpu) / floor_cpu, 2),
        "peak_rss_mb": peak,
        "memory_target_met": all(v < MEMORY_TARGET_MB for v in peak.values()) if n >= 1_000_000 else None,
    }


if __name__ == "__main__":
    sys.exit(main())
