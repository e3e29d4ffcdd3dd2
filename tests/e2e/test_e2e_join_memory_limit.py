"""The run's join inside the store's DuckDB, under a memory limit far below what its tokens take.

A real store file, a run whose four uploads go through the coordinator's own begin/put/commit (random
32-byte tokens with a known overlap, account labels in a random order, random population masks and a few
real canary pairs), the completion running under SET memory_limit = '50MB': the released matrix must be
the one numpy computes from how the tokens were made, and DuckDB must have spilled to the temp directory
the coordinator set (0700, beside the store).
"""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from cleanroom.coordinator.server import Operations, _tune
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.protocol import MAX_CHUNK_POINTS, chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret

from inprocess import agree, coordinator

N = 600_000  # a side: the join's tables alone take 2 x 600,000 x 36 bytes (43 MB), its hash table as much again
SHARED = 150_000
# Points a chunk: as clients send them (1 MiB). Kept as BLOBs, DuckDB would pin every one a 2,048-row vector holds,
# 4 x 19 MiB here, past 50 MB; the store keeps them one row a point (cleanroom/coordinator/store/points.py).
CHUNK = MAX_CHUNK_POINTS
CANARY_PAIRS = 8
POPS = ("customer", "prospect")


def _points(rng, n: int) -> np.ndarray:
    """n random canonical u-coordinates (the top bit clear, as the coordinator checks every chunk's points)."""
    points = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    points[:, 31] &= 0x7F
    return points


def _canaried(rng, tokens: np.ndarray, reblinder: bytes):
    """An own upload's points and its re-blinding, with CANARY_PAIRS real canary pairs hidden at random places."""
    n = len(tokens) + 2 * CANARY_PAIRS
    places = rng.choice(n, 2 * CANARY_PAIRS, replace=False).astype(np.uint32)
    scalar = new_secret()
    u = hash_to_points([f"canary-{i}-{rng.integers(1 << 60)}" for i in range(CANARY_PAIRS)], b"test/canaries")
    pairs = np.frombuffer(u + blind(scalar, u, workers=1), dtype=np.uint8).reshape(2, -1, 32).transpose(1, 0, 2).reshape(-1, 32)
    real = np.ones(n, dtype=bool)
    real[places] = False
    own = _points(rng, n)
    own[places] = pairs
    reblinded = np.empty((n, 32), dtype=np.uint8)
    reblinded[real] = tokens
    reblinded[places] = np.frombuffer(blind(reblinder, pairs.tobytes(), workers=1), dtype=np.uint8).reshape(-1, 32)
    return own, reblinded, real, scalar, places.tobytes()


def _upload(coord, party, agreement, kind, points, labels=None, **announced) -> dict:
    chunks = []
    for start in range(0, len(points), CHUNK):
        part = slice(start, start + CHUNK)
        accounts = labels[0][part].astype("<u4").tobytes() if labels else b""
        pops = labels[1][part].astype("<u2").tobytes() if labels else b""
        blob = points[part].tobytes()
        chunks.append((blob, accounts, pops, chunk_digest(blob, accounts, pops, b"")))
    session = coord.begin_upload(
        party, agreement["agreement_id"], agreement["terms_hash"], kind, announced.pop("run_id", ""), len(points),
        len(chunks), announced.pop("n_accounts", 0), upload_digest([c[3] for c in chunks]), **announced,
    )  # fmt: skip
    for seq, (blob, accounts, pops, digest) in enumerate(chunks):
        coord.put_chunk(party, session["upload_id"], seq, blob, accounts, pops, digest, b"")
    return coord.commit_upload(party, session["upload_id"])


@pytest.fixture(scope="module")
def limited_run(tmp_path_factory):
    rng = np.random.default_rng(16)
    coord, data_dir = coordinator(tmp_path_factory.mktemp("join"))
    agreement = agree(coord, POPS, min_set_size=1, min_count=1, retention_seconds=3600)  # points stay for the spill test
    tokens = {p: _points(rng, N) for p in ("vendor", "partner")}
    a_at, b_at = rng.choice(N, SHARED, replace=False), rng.choice(N, SHARED, replace=False)
    tokens["partner"][b_at] = tokens["vendor"][a_at]
    labels = {p: (rng.permutation(N).astype(np.uint32), rng.integers(1, 4, size=N, dtype=np.uint16)) for p in tokens}
    secrets = {p: new_secret() for p in tokens}
    made, receipts = {}, {}
    for party, other in (("vendor", "partner"), ("partner", "vendor")):
        own, reblinded, real, scalar, places = _canaried(rng, tokens[party], secrets[other])
        n = len(own)
        # Canary places carry filler labels (account 0, every population): they must count nowhere.
        full = (np.zeros(n, dtype=np.uint32), np.full(n, 3, dtype=np.uint16))
        full[0][real], full[1][real] = labels[party]
        receipts[party] = _upload(
            coord, party, agreement, OWN, own, full, n_accounts=N, canary_scalar=scalar, canary_positions=places,
            run_id=receipts.get(other, {}).get("run_id", ""),
        )  # fmt: skip
        made[party] = reblinded
    run_id = receipts["vendor"]["run_id"]
    # The limit from here on: the completion runs in the last commit. (Committing an own upload reads all its
    # points into Python in one query, which 50 MB does not hold: that check is not under test here.)
    _tune(coord.store, Operations(duckdb_memory_limit="50MB"))
    for party, other in (("vendor", "partner"), ("partner", "vendor")):
        peer = coord.status(party, agreement["agreement_id"], run_id)["peer_upload_id"]
        _upload(coord, party, agreement, REBLINDED, made[other], run_id=run_id, of_upload_id=peer)
    # The ground truth, from how the tokens were made: A's a_at[k] and B's b_at[k] are one company.
    a_masks, b_masks = labels["vendor"][1][a_at].astype(np.int64), labels["partner"][1][b_at].astype(np.int64)
    truth = [[int(np.count_nonzero((a_masks >> i & 1) & (b_masks >> j & 1))) for j in range(2)] for i in range(2)]
    yield coord, data_dir, agreement, run_id, truth
    coord.store.close()


def test_a_run_completes_under_a_tiny_memory_limit_with_exactly_the_numpy_matrix(limited_run):
    coord, _, agreement, run_id, truth = limited_run
    assert coord.status("vendor", agreement["agreement_id"], run_id)["state"] == "complete"
    with coord.store.reading() as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("47.6 MiB", "50.0 MB")
    for viewer in ("vendor", "partner"):
        release = coord.overlap(viewer, agreement["agreement_id"])
        got = {(c["mine"], c["theirs"]): c["count"] for c in release["cells"]}
        for i, mine in enumerate(POPS):
            for j, theirs in enumerate(POPS):
                expected = truth[i][j] if viewer == "vendor" else truth[j][i]
                assert got[(mine, theirs)] == expected, (viewer, mine, theirs)
        assert release["totals"]["overlap"] == SHARED
        assert (release["totals"]["mine"], release["totals"]["theirs"]) == (N, N)


def test_the_join_spills_into_the_coordinators_own_temp_directory(limited_run):
    coord, data_dir, _, run_id, _ = limited_run
    spill = data_dir.store_path.parent / "duckdb-tmp"
    assert stat.S_IMODE(spill.stat().st_mode) == 0o700
    # Both sides' tokens again (the run keeps its points an hour), 2 x 600,000 x 36 bytes: DuckDB holds what does
    # not fit in 50 MB in temporary files, which must be in the coordinator's directory.
    reblinded = [u.upload_id for u in coord.store.uploads.all_of_run(run_id) if u.kind == REBLINDED]
    with coord.store.token_join() as join:
        for side, upload_id in zip(("a", "b"), reblinded, strict=True):
            assert join.load(side, upload_id) == N + 2 * CANARY_PAIRS
        assert len(join.matches()) == SHARED
        files = join.spill_files()
    assert files and all(Path(path).parent == spill for path in files), files
