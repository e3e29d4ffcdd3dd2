"""The Ray engine against the local pool, and one Ray node against two: hash-and-blind of N keys.

    .venv/bin/python benchmarks/ray_bench.py [--n 1000000] [--json]

Needs the ray extra (pip install 'cleanroom[ray]'). Runs, on the same keys and secret, in one process:

* the local pool (``cleanroom.psi.engine.LocalEngine``: every core of this machine), warmed up first;
* Ray on one node with as many CPUs as this machine has, on a real cluster on loopback;
* Ray on two nodes splitting those CPUs (1 + 1 on a 2-core machine), the same job.

Every run's output is checked to equal the local pool's byte for byte. The machine is shared, so the
figures that count are CPU-normalised: CPU seconds of every process the job used (this process, the
pool's workers; or every process of the Ray cluster: workers, raylets, GCS) and points per CPU second.
The overhead ratio is Ray's CPU seconds per point over the local pool's (target: <= 1.15 at 1,000,000).

Then a projection, from the two-node run's points per CPU second: hours for 5,000,000 accounts x 200
partners (1e9 hash-and-blind operations, one agreement secret per partner) on 1, 8 and 32 nodes of 16
cores. A projection, not a measurement: it assumes the per-core rate measured here holds on those nodes
and that Ray's scheduling overhead stays what two nodes showed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cleanroom.demo.raycluster import RayCluster
from cleanroom.psi import default_workers, new_secret
from cleanroom.psi.engine import Engine, LocalEngine
from cleanroom.psi.ray_engine import RayEngine

CONTEXT = b"bench/agreement-0/domain"
TARGET = 1.15
TICK = os.sysconf("SC_CLK_TCK")
PROJECTION = {"accounts": 5_000_000, "partners": 200, "cores_per_node": 16, "nodes": (1, 8, 32)}


def make_keys(n: int) -> list[str]:
    return [f"account-{i:07d}.example.com" for i in range(n)]


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15 of stat)


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (the local pool's fork server and workers)."""
    parent = {int(p.name): _ppid(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier and pid not in found}
        found |= frontier
    return found


def in_sessions(sessions: set[int]) -> set[int]:
    found = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if os.getsid(int(p.name)) in sessions:
                    found.add(int(p.name))
            except OSError:
                continue
    return found


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(engine: Engine, keys: list[str], secret: bytes, others: Callable[[], set[int]]) -> tuple[dict[str, float], bytes]:
    """Wall and CPU seconds of one hash-and-blind over ``keys``: this process plus ``others()``'s processes."""
    before = {pid: _proc_cpu(pid) for pid in others()}
    cpu0, t0 = _self_cpu(), time.perf_counter()
    out = engine.hash_and_blind(keys, CONTEXT, secret)
    wall, own = time.perf_counter() - t0, _self_cpu() - cpu0
    after = {pid: _proc_cpu(pid) for pid in others() | set(before)}
    theirs = sum(max(0.0, after[pid] - before.get(pid, 0.0)) for pid in after)
    cpu = own + theirs
    n = len(keys)
    return {"wall_s": wall, "cpu_s": cpu, "driver_cpu_s": own, "points_per_cpu_s": n / cpu, "points_per_s": n / wall}, out


def ray_run(cpus: tuple[int, ...], keys: list[str], secret: bytes, expected: bytes) -> dict[str, float]:
    cluster = RayCluster(cpus).start()
    try:
        engine = RayEngine.connect(cluster.address)
        try:
            sessions = {n.pid for n in cluster.nodes}
            engine.hash_and_blind(keys[: 4096 * sum(cpus)], CONTEXT, secret)  # warm: one worker per CPU started
            figures, out = measure(engine, keys, secret, lambda: in_sessions(sessions))
        finally:
            engine.close()
    finally:
        cluster.stop()
    if out != expected:
        raise SystemExit(f"Ray on nodes {cpus} gave other points than the local pool: a bug, not a benchmark result")
    return {**figures, "nodes": len(cpus), "cores": sum(cpus), "points_per_core_s": len(keys) / (figures["wall_s"] * sum(cpus))}


def projection(points_per_cpu_s: float) -> list[dict[str, float]]:
    work = PROJECTION["accounts"] * PROJECTION["partners"]  # type: ignore[operator]
    rows = []
    for nodes in PROJECTION["nodes"]:  # type: ignore[attr-defined]
        cores = nodes * PROJECTION["cores_per_node"]
        rows.append({"nodes": nodes, "cores": cores, "hours": work / (points_per_cpu_s * cores) / 3600})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = default_workers()
    keys, secret = make_keys(args.n), new_secret()
    local = LocalEngine()
    local.hash_and_blind(keys[: 4096 * cores], CONTEXT, secret)  # warm: the pool's workers started
    me = os.getpid()
    local_figures, expected = measure(local, keys, secret, lambda: descendants(me))
    local_figures["points_per_core_s"] = args.n / (local_figures["wall_s"] * cores)
    one = ray_run((cores,), keys, secret, expected)
    split = ray_run(tuple([1] * cores) if cores <= 4 else (cores // 2, cores - cores // 2), keys, secret, expected)
    report = {
        "n": args.n,
        "cores": cores,
        "load_average": os.getloadavg(),
        "local": local_figures,
        "ray_one_node": one,
        "ray_two_nodes": split,
        "overhead_cpu_ratio": one["cpu_s"] / local_figures["cpu_s"],
        "overhead_wall_ratio": one["wall_s"] / local_figures["wall_s"],
        "target": TARGET,
        "two_over_one_node_per_cpu": split["points_per_cpu_s"] / one["points_per_cpu_s"],
        "projection": projection(split["points_per_cpu_s"]),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0


def _print(r: dict) -> None:
    print(f"{r['n']:,} keys hashed and blinded, {r['cores']} cores, load average {r['load_average'][0]:.1f}")
    for name in ("local", "ray_one_node", "ray_two_nodes"):
        f = r[name]
        print(
            f"  {name:14} wall {f['wall_s']:7.1f} s  CPU {f['cpu_s']:7.1f} s (driver {f['driver_cpu_s']:5.1f})  "
            f"{f['points_per_cpu_s']:8,.0f} points/CPU-s  {f['points_per_core_s']:8,.0f} points/core-s of wall"
        )
    print(
        f"  Ray/local CPU per point: {r['overhead_cpu_ratio']:.3f} (target <= {r['target']}); wall {r['overhead_wall_ratio']:.3f}"
    )
    print(f"  two nodes/one node, points per CPU-s: {r['two_over_one_node_per_cpu']:.3f}")
    print("  PROJECTION (not measured): 5M accounts x 200 partners on nodes of 16 cores")
    for row in r["projection"]:
        print(f"    {row['nodes']:3} nodes ({row['cores']:4} cores): {row['hours']:6.2f} h")


if __name__ == "__main__":
    sys.exit(main())
