"""Blinding throughput: cleanroom.psi against raw X25519 and openmined-psi.

    .venv/bin/python benchmarks/blind_bench.py [--n 200000] [--workers N] [--json]

Measures, in one run and on the same keys:

* ``hash_to_points``: keys -> curve points, in-process (one core);
* ``blind(workers=None)``: our multi-process blinding (the pool is warmed up
  first, so the figure is the steady-state rate a long-running client sees);
* ``blind(..., own_hashes=True)``: the same points as our own hash outputs, which Intel's crypto_mb
  multiplies where it loads (cleanroom/psi/x25519.py; points received are always on OpenSSL);
* ``hash_and_blind(workers=None)``: hashing and blinding in the workers (own hashes too);
* raw ``cryptography`` X25519 on one core: ``exchange(from_public_bytes(p))``
  in a plain loop, the floor of what any Python wrapper can reach per core;
* openmined-psi (ECDH over P-256, C++): the client's ``CreateRequest``
  (hash + blind) and the server's ``ProcessRequest`` (blind only), per element.

Target (issue 2): ours >= 0.8 x (cores x raw single-core rate).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cleanroom.psi import blind, default_workers, hash_and_blind, hash_to_points, new_secret, shutdown_pool, x25519
from cleanroom.psi.blinding import IN_PROCESS_MAX

CONTEXT = b"bench/agreement-0/domain"
TARGET = 0.8


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_keys(n: int) -> list[str]:
    return [f"account-{i:07d}.example.com" for i in range(n)]


def timed(fn, *args, repeat: int = 1, **kwargs):
    """Best wall time of ``repeat`` runs (the machine is shared; best is least noisy)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, result


def raw_x25519(secret: bytes, points: bytes) -> int:
    exchange = X25519PrivateKey.from_private_bytes(secret).exchange
    from_bytes = X25519PublicKey.from_public_bytes
    for i in range(0, len(points), 32):
        exchange(from_bytes(points[i : i + 32]))
    return len(points) // 32


def openmined(keys: list[str]) -> dict[str, float] | None:
    try:
        import private_set_intersection.python as psi
    except ImportError:
        return None
    client = psi.client.CreateWithNewKey(True)
    server = psi.server.CreateWithNewKey(True)
    t_req, request = timed(client.CreateRequest, keys)
    t_proc, _ = timed(server.ProcessRequest, request)
    return {
        "version": psi.__version__,
        "client_hash_blind_per_s": len(keys) / t_req,
        "server_blind_per_s": len(keys) / t_proc,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="keys to blind (default 200,000)")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: every core)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of ours; the best is reported")
    ap.add_argument("--raw-n", type=int, default=None, help="points for the raw single-core loop (default: all)")
    ap.add_argument("--skip-openmined", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)
    if args.n <= IN_PROCESS_MAX:
        ap.error(f"--n must exceed {IN_PROCESS_MAX} (smaller inputs never leave the process)")

    cores = args.workers or default_workers()
    keys = make_keys(args.n)
    secret = new_secret()

    t_hash, points = timed(hash_to_points, keys, CONTEXT)

    # Warm the pool (forkserver + workers start once per client process).
    t0 = time.perf_counter()
    blind(secret, points[: (IN_PROCESS_MAX + 1) * 32 * cores], workers=args.workers)
    t_warm = time.perf_counter() - t0

    t_blind, blinded = timed(blind, secret, points, workers=args.workers, repeat=args.repeat)
    # Our own hash outputs: crypto_mb multiplies them where it loads (cleanroom/psi/x25519.py).
    t_own, own = timed(blind, secret, points, workers=args.workers, repeat=args.repeat, own_hashes=True)
    if own != blinded:
        print("blind(own_hashes=True) disagrees with blind", file=sys.stderr)
        return 1
    t_hb, hb = timed(hash_and_blind, keys, CONTEXT, secret, workers=args.workers, repeat=args.repeat)
    if hb != blinded:
        print("hash_and_blind disagrees with blind(hash_to_points)", file=sys.stderr)
        return 1

    raw_points = points[: (args.raw_n or args.n) * 32]
    t_raw, n_raw = timed(raw_x25519, secret, raw_points)
    om = None if args.skip_openmined else openmined(keys)
    shutdown_pool()

    raw = n_raw / t_raw
    ours = args.n / t_blind
    result = {
        "n": args.n,
        "cores": cores,
        "machine": f"{platform.machine()}, {cpu_model()}",
        "python": platform.python_version(),
        "pool_start_s": t_warm,
        "hash_to_points_per_s": args.n / t_hash,
        "blind_per_s": ours,
        "x25519_own_hashes": x25519.backend(),
        "blind_own_hashes_per_s": args.n / t_own,
        "ratio_own_hashes_vs_cores_x_raw": (args.n / t_own) / (cores * raw),
        "hash_and_blind_per_s": args.n / t_hb,
        "raw_x25519_one_core_per_s": raw,
        "ratio_vs_cores_x_raw": ours / (cores * raw),
        "target": TARGET,
        "meets_target": ours >= TARGET * cores * raw,
        "openmined_psi": om,
    }
    if om:
        result["ratio_vs_openmined_blind"] = ours / om["server_blind_per_s"]
        # openmined-psi runs on one core; per core, compare the raw X25519 rate.
        result["ratio_per_core_vs_openmined_blind"] = (ours / cores) / om["server_blind_per_s"]
        result["ratio_hash_and_blind_vs_openmined_client"] = (args.n / t_hb) / om["client_hash_blind_per_s"]

    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    rows = [
        ("hash_to_points (1 core)", result["hash_to_points_per_s"]),
        (f"blind, workers={args.workers} ({cores} procs)", ours),
        (f"blind own hashes ({result['x25519_own_hashes']})", result["blind_own_hashes_per_s"]),
        (f"hash_and_blind, workers={args.workers}", result["hash_and_blind_per_s"]),
        ("raw cryptography X25519, 1 core", raw),
        (f"{cores} x raw single-core", cores * raw),
    ]
    if om:
        rows += [
            (f"openmined-psi {om['version']} ProcessRequest (blind)", om["server_blind_per_s"]),
            ("openmined-psi CreateRequest (hash+blind)", om["client_hash_blind_per_s"]),
        ]
    print(f"n={args.n:,} keys, {cores} cores ({os.cpu_count()} online, {result['machine']}), Python {result['python']}")
    print(f"pool start (first call): {t_warm * 1000:.0f} ms")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'keys/s':>12}")
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:>12,.0f}")
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"ours / (cores x raw single-core) = {result['ratio_vs_cores_x_raw']:.2f}  ({verdict} the {TARGET} target)")
    if om:
        print(
            f"ours / openmined-psi (blind vs ProcessRequest) = {result['ratio_vs_openmined_blind']:.2f}"
            f"  (per core: {result['ratio_per_core_vs_openmined_blind']:.2f}; openmined-psi uses one core)"
        )
        print(f"hash_and_blind / openmined-psi (vs CreateRequest) = {result['ratio_hash_and_blind_vs_openmined_client']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
