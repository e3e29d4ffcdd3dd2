"""The coordinator's join and release at scale: N x N double-blinded tokens in a real store.

    .venv/bin/python benchmarks/join_bench.py [--n 10000000] [--overlap 0.25] [--memory-limit 1GB]
        [--threads 0] [--repeat 2] [--data DIR] [--json]

Builds (once, cached under --data) a coordinator data dir whose store holds one overlap run with its four
uploads committed: each party's own upload (random points, account labels in a random order, population
masks, 64 canary pairs as a client hides them) and the other party's re-blinding of it (random 32-byte
tokens; an --overlap share of B's tokens are A's, at random places; the canaries re-blinded for real).
The agreement, run and upload rows go through the store's own repositories and migrations, the chunks
(32,768 points each, real chunk digests) through one bulk insert per upload into its chunks table, and
their points into chunk_points (one row a point, as the store keeps them) a million at a time.

Then, --repeat times, on a fresh copy of that data dir and in a fresh process: open the store with the
DuckDB settings the coordinator's config gives (memory_limit, threads, temp_directory), complete the run
(``Coordinator.resume``: the re-blinding checks, the join, the counts, the stored result) and release the
overlap to the vendor (``Coordinator.overlap``). Reports wall and CPU seconds of each step and the
process's peak RSS, and checks the released matrix against the ground truth computed here, with numpy,
from how the tokens were made.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.server import Operations, _tune
from cleanroom.coordinator.store import Store, now
from cleanroom.coordinator.store.points import insert_points
from cleanroom.coordinator.store.records import OWN, REBLINDED, RunRow, UploadRow
from cleanroom.protocol import MAX_CHUNK_POINTS, chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json

POPULATIONS = {"vendor": ["customer", "prospect"], "partner": ["customer", "prospect", "opportunity"]}
CANARY_PAIRS = 64
SEED = 20261205


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random canonical u-coordinates (top bit clear), as the coordinator accepts points."""
    points = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    points[:, 31] &= 0x7F
    return points


def _side_data(rng: np.random.Generator, n: int, n_pops: int) -> tuple[np.ndarray, np.ndarray]:
    """Account labels (a random order of 0..n-1, one point each) and population masks (1..2^p - 1)."""
    return rng.permutation(n).astype(np.uint32), rng.integers(1, 1 << n_pops, size=n, dtype=np.uint16)


def _with_canaries(rng: np.random.Generator, tokens: np.ndarray, labels: tuple[np.ndarray, np.ndarray], reblind: bytes):
    """Hide CANARY_PAIRS pairs (u, X(c, u)) among an own upload's points, and their re-blinding X(b, .) among the
    tokens, at random places; the labels there are filler (the completion must leave them out)."""
    n = len(tokens) + 2 * CANARY_PAIRS
    places = rng.choice(n, 2 * CANARY_PAIRS, replace=False).astype(np.uint32)
    scalar = new_secret()
    u = hash_to_points([f"canary-{rng.integers(1 << 62)}-{i}" for i in range(CANARY_PAIRS)], b"bench/canaries")
    own_pairs = np.frombuffer(u + blind(scalar, u, workers=1), dtype=np.uint8).reshape(2, -1, 32).transpose(1, 0, 2)
    own_pairs = own_pairs.reshape(-1, 32)
    re_pairs = np.frombuffer(blind(reblind, own_pairs.tobytes(), workers=1), dtype=np.uint8).reshape(-1, 32)
    real = np.ones(n, dtype=bool)
    real[places] = False
    out = np.empty((n, 32), dtype=np.uint8)
    out[real], out[places] = tokens, re_pairs
    own = _points(rng, n)
    own[places] = own_pairs
    accounts, masks = np.zeros(n, dtype=np.uint32), np.ones(n, dtype=np.uint16)
    accounts[real], masks[real] = labels
    return own, out, accounts, masks, (scalar, places.tobytes())


def _chunks(upload_id: str, points: np.ndarray, accounts: np.ndarray | None, masks: np.ndarray | None, size: int) -> pa.Table:
    """The chunks' rows (their points go to chunk_points: ``_insert_points``)."""
    rows: dict[str, list] = {k: [] for k in ("upload_id", "seq", "n_points", "accounts", "populations", "digest")}
    for seq, start in enumerate(range(0, len(points), size)):
        part = slice(start, start + size)
        p = points[part].tobytes()
        a = accounts[part].astype("<u4").tobytes() if accounts is not None else b""
        m = masks[part].astype("<u2").tobytes() if masks is not None else b""
        for key, value in zip(
            rows, (upload_id, seq, len(p) // 32, a or None, m or None, chunk_digest(p, a, m, b"")), strict=True
        ):
            rows[key].append(value)
    return pa.table(rows, schema=pa.schema([("upload_id", pa.string()), ("seq", pa.uint32()), ("n_points", pa.uint32()),
        ("accounts", pa.binary()), ("populations", pa.binary()), ("digest", pa.string())]))  # fmt: skip


def _insert_points(con, upload_id: str, points: np.ndarray) -> None:
    """An upload's points into chunk_points as the store keeps them (store.points), a million rows at a time."""
    for start in range(0, len(points), 1 << 20):
        insert_points(con, upload_id, start, points[start : start + (1 << 20)].tobytes())


def generate(data: Path, n: int, overlap: float, chunk_points: int) -> dict:
    """The cached data dir and the ground truth of its run (the matrix, computed here with numpy)."""
    rng = np.random.default_rng(SEED)
    data_dir = DataDir(data / "coord")
    data_dir.init(listen="127.0.0.1:0")
    coord = Coordinator(Store(data_dir.store_path, data_dir.signer()))
    terms = build_terms("vendor", "partner", POPULATIONS["vendor"], POPULATIONS["partner"], min_set_size=1)
    proposed = coord.propose("vendor", "partner", canonical_json(terms))
    agreement = coord.approve("partner", proposed["agreement_id"], proposed["terms_hash"])
    tokens = {"vendor": _points(rng, n), "partner": _points(rng, n)}
    shared = int(n * overlap)
    a_at, b_at = rng.choice(n, shared, replace=False), rng.choice(n, shared, replace=False)
    tokens["partner"][b_at] = tokens["vendor"][a_at]
    labels = {p: _side_data(rng, n, len(POPULATIONS[p])) for p in POPULATIONS}
    # The ground truth: A's point a_at[k] and B's point b_at[k] are one company; count it in every cell it lies in.
    a_masks, b_masks = labels["vendor"][1][a_at].astype(np.int64), labels["partner"][1][b_at].astype(np.int64)
    matrix = [[int(np.count_nonzero((a_masks >> i & 1) & (b_masks >> j & 1))) for j in range(3)] for i in range(2)]
    run = RunRow(
        f"run_bench{n}",
        agreement["agreement_id"],
        agreement["version"],
        agreement["terms_hash"],
        "collecting",
        now(),
        None,
        "overlap",
    )
    with coord.store.transaction() as con:
        coord.store.runs.insert(con, run)
    for party, other in (("vendor", "partner"), ("partner", "vendor")):
        own, reblinded, accounts, masks, canaries = _with_canaries(rng, tokens[party], labels[party], new_secret())
        tables = {
            OWN: _chunks(f"upl_{party}_own", own, accounts, masks, chunk_points),
            REBLINDED: _chunks(f"upl_{other}_re", reblinded, None, None, chunk_points),
        }
        for kind, uploader in ((OWN, party), (REBLINDED, other)):
            table = tables[kind]
            digest = upload_digest(table.column("digest").to_pylist())
            row = UploadRow(table.column("upload_id")[0].as_py(), run.run_id, uploader, kind, len(own), table.num_rows,
                n if kind == OWN else 0, digest, None if kind == OWN else f"upl_{party}_own", True, now(), now())  # fmt: skip
            with coord.store.transaction() as con:
                coord.store.uploads.insert(con, row)
                if kind == OWN:
                    coord.store.uploads.insert_canaries(con, row.upload_id, *canaries)
                con.register("bench_chunks", table)
                con.execute(f"INSERT INTO chunks ({', '.join(table.column_names)}) SELECT * FROM bench_chunks")
                con.unregister("bench_chunks")
                _insert_points(con, row.upload_id, own if kind == OWN else reblinded)
        del own, reblinded
    coord.store.checkpoint()
    coord.store.close()
    truth = {"n": n, "overlap": shared, "matrix": matrix, "agreement_id": agreement["agreement_id"], "run_id": run.run_id}
    (data / "truth.json").write_text(json.dumps(truth))
    return truth


def measure(work: Path, memory_limit: str, threads: int) -> dict:
    """In this (fresh) process: complete the run and release it to the vendor; times, CPU and peak RSS."""
    truth = json.loads((work / "truth.json").read_text())
    data_dir = DataDir(work / "coord")
    t0, c0 = time.perf_counter(), _cpu()
    store = Store(data_dir.store_path, data_dir.signer())
    _tune(store, Operations(duckdb_memory_limit=memory_limit, duckdb_threads=threads))
    coord = Coordinator(store)
    t1, c1 = time.perf_counter(), _cpu()
    settled = coord.resume()  # the run's four uploads are in: the checks, the join, the counts, the stored result
    t2, c2 = time.perf_counter(), _cpu()
    release = coord.overlap("vendor", truth["agreement_id"])
    t3, c3 = time.perf_counter(), _cpu()
    state = coord.status("vendor", truth["agreement_id"], truth["run_id"])["state"]
    with store.reading() as con:
        found = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    store.close()
    matrix = [[0] * 3 for _ in range(2)]
    for cell in release["cells"]:
        matrix[POPULATIONS["vendor"].index(cell["mine"])][POPULATIONS["partner"].index(cell["theirs"])] = cell["count"]
    return {
        "settled": settled,
        "state": state,
        "open_s": round(t1 - t0, 2),
        "open_cpu_s": round(c1 - c0, 2),
        "complete_s": round(t2 - t1, 2),
        "complete_cpu_s": round(c2 - c1, 2),
        "release_s": round(t3 - t2, 3),
        "release_cpu_s": round(c3 - c2, 3),
        "peak_rss_mb": _peak_rss_mb(),
        "memory_limit": found[0] if found else "",
        "temp_directory": found[1] if found else "",
        "released_matrix": matrix,
        "released_overlap": release["totals"]["overlap"],
        "exact": matrix == truth["matrix"] and release["totals"]["overlap"] == truth["overlap"],
    }


def _peak_rss_mb() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the process that forked
    this one (the generator, gigabytes), across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _spill_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) if directory.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="tokens a side")
    parser.add_argument("--overlap", type=float, default=0.25, help="share of the tokens both sides hold")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit ('' : DuckDB's default)")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: one per core)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--chunk-points", type=int, default=MAX_CHUNK_POINTS, help="points a chunk (clients send up to 32,768)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/cleanroom-join-bench"), help="cache of generated stores")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process: one timed completion
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.memory_limit, args.threads)))
        return 0
    cache = args.data / f"n{args.n}-o{args.overlap}-c{args.chunk_points}-rows"  # points one row a point (migration 19)
    if not (cache / "truth.json").exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        t0, c0 = time.perf_counter(), _cpu()
        generate(cache, args.n, args.overlap, args.chunk_points)
        print(f"generated {cache} in {time.perf_counter() - t0:.0f} s ({_cpu() - c0:.0f} CPU s)", file=sys.stderr)
    runs = []
    for _ in range(args.repeat):
        work = args.data / "work"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(cache, work)
        load = os.getloadavg()[0]
        cmd = [
            sys.executable,
            __file__,
            "--measure",
            str(work),
            "--memory-limit",
            args.memory_limit,
            "--threads",
            str(args.threads),
        ]
        child = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            return 1
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result.update(load_before=round(load, 1), spilled_mb_left=_spill_bytes(work / "coord" / "duckdb-tmp") >> 20)
        runs.append(result)
        if not args.json:
            print(
                f"n={args.n:,} limit={result['memory_limit']} complete {result['complete_s']} s "
                f"({result['complete_cpu_s']} CPU s), release {result['release_s']} s, peak RSS {result['peak_rss_mb']} MB, "
                f"exact={result['exact']}, load {result['load_before']}"
            )
    shutil.rmtree(args.data / "work", ignore_errors=True)
    if args.json:
        print(json.dumps({"n": args.n, "overlap": args.overlap, "cores": os.cpu_count(), "runs": runs}, indent=2))
    return 0 if all(r["exact"] and r["state"] == "complete" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
