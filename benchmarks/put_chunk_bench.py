"""The coordinator's cost to receive one chunk of 32,768 points (``Coordinator.put_chunk``).

    .venv/bin/python benchmarks/put_chunk_bench.py [--chunks 60] [--chunk-points 32768] [--json]

A real store file in a temporary directory, one agreement, one own upload of --chunks chunks of random
points with labels, each chunk put through ``Coordinator.put_chunk`` in order (the framing, digest and
point checks, the labels' checks and the store's insert). Reports wall and CPU milliseconds per chunk
(median and mean over all chunks), and the same for the store's insert alone
(``UploadRepository.insert_chunk`` in its transaction), measured on a second upload. The points are not
blinded for real, so the committed upload would not pass its checks: only the puts are measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store, now
from cleanroom.coordinator.store.records import OWN, NewChunk
from cleanroom.protocol import MAX_CHUNK_POINTS, chunk_digest, upload_digest
from cleanroom.terms import build_terms, canonical_json


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _chunks(rng: np.random.Generator, n_chunks: int, size: int) -> list[tuple[bytes, bytes, bytes, str]]:
    made = []
    for seq in range(n_chunks):
        points = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
        points[:, 31] &= 0x7F  # canonical u-coordinates, as the coordinator checks
        p = points.tobytes()
        a = np.arange(seq * size, (seq + 1) * size, dtype="<u4").tobytes()
        m = np.ones(size, dtype="<u2").tobytes()
        made.append((p, a, m, chunk_digest(p, a, m, b"")))
    return made


def _summary(wall: list[float], cpu: list[float]) -> dict:
    ms = lambda xs: round(1000 * xs, 2)  # noqa: E731
    return {
        "wall_ms_median": ms(statistics.median(wall)),
        "wall_ms_mean": ms(statistics.fmean(wall)),
        "cpu_ms_median": ms(statistics.median(cpu)),
        "cpu_ms_mean": ms(statistics.fmean(cpu)),
    }


def measure(root: Path, n_chunks: int, size: int) -> dict:
    data_dir = DataDir(root / "coord")
    data_dir.init(listen="127.0.0.1:0")
    coord = Coordinator(Store(data_dir.store_path, data_dir.signer()))
    terms = build_terms("vendor", "partner", ["customer"], min_set_size=1)
    proposed = coord.propose("vendor", "partner", canonical_json(terms))
    agreement = coord.approve("partner", proposed["agreement_id"], proposed["terms_hash"])
    chunks = _chunks(np.random.default_rng(32768), n_chunks, size)
    total = n_chunks * size
    session = coord.begin_upload(
        "vendor", agreement["agreement_id"], agreement["terms_hash"], OWN, "", total, n_chunks, total,
        upload_digest([c[3] for c in chunks]),
    )  # fmt: skip
    wall, cpu = [], []
    for seq, (p, a, m, digest) in enumerate(chunks):
        t0, c0 = time.perf_counter(), _cpu()
        coord.put_chunk("vendor", session["upload_id"], seq, p, a, m, digest, b"")
        wall.append(time.perf_counter() - t0)
        cpu.append(_cpu() - c0)
    put = _summary(wall, cpu)
    # The store's insert alone, into a second upload of the same run (the partner's own).
    other = coord.begin_upload(
        "partner", agreement["agreement_id"], agreement["terms_hash"], OWN, session["run_id"], total, n_chunks, total,
        upload_digest([c[3] for c in chunks]),
    )  # fmt: skip
    store = coord.store
    wall, cpu = [], []
    for seq, (p, a, m, digest) in enumerate(chunks):
        chunk = NewChunk(other["upload_id"], seq, size, p, a, m, digest, None, None)
        t0, c0 = time.perf_counter(), _cpu()
        with store.transaction() as con:
            store.uploads.insert_chunk(con, chunk, now())
        wall.append(time.perf_counter() - t0)
        cpu.append(_cpu() - c0)
    store.close()
    return {"chunks": n_chunks, "chunk_points": size, "put_chunk": put, "store_insert": _summary(wall, cpu)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=60)
    parser.add_argument("--chunk-points", type=int, default=MAX_CHUNK_POINTS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="put-chunk-bench-") as root:
        result = measure(Path(root), args.chunks, args.chunk_points)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key in ("put_chunk", "store_insert"):
            print(f"{key:13} " + ", ".join(f"{k} {v}" for k, v in result[key].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
