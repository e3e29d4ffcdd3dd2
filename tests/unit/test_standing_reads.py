"""The standing side's reads a change is checked with, over a real DuckDB file: they read only the labels a
change names, so they are checked here against sets computed from what the test put in."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from cleanroom.coordinator.store.connection import Database
from cleanroom.coordinator.store.standing import StandingRepository, token_table


def _stand(repo: StandingRepository, db: Database, agreement_id: str, party: str, labels: list[int]) -> None:
    tokens = random.Random(len(labels)).randbytes(32 * len(labels))
    with db.transaction() as con:
        repo.add(
            con,
            agreement_id,
            party,
            token_table(tokens, np.array(labels, dtype=np.uint32)),
            pa.table({"label": np.array(labels, dtype=np.uint32), "populations": np.ones(len(labels), dtype=np.uint16)}),
        )


def test_held_labels_and_the_count_see_only_the_side_asked(tmp_path):
    db = Database(tmp_path / "store.duckdb")
    repo = StandingRepository(db)
    rng = random.Random(7)
    mine = rng.sample(range(2**32), 500)  # labels are any uint32 a party chose
    _stand(repo, db, "agr_1", "vendor", mine)
    _stand(repo, db, "agr_1", "partner", rng.sample(range(2**32), 300))
    _stand(repo, db, "agr_2", "vendor", rng.sample(range(2**32), 200))
    others = [label for label in rng.sample(range(2**32), 400) if label not in set(mine)]
    asked = rng.sample(mine, 50) + others[:60] + mine[:3]  # a label asked twice comes back once
    expected = sorted(set(asked) & set(mine))
    held = repo.held_labels("agr_1", "vendor", np.array(asked, dtype=np.uint32))
    assert held.dtype == np.uint32 and held.tolist() == expected
    assert repo.held_labels("agr_1", "vendor", np.zeros(0, dtype=np.uint32)).tolist() == []
    assert repo.account_count("agr_1", "vendor") == 500
    assert repo.account_count("agr_1", "partner") == 300
    assert repo.account_count("agr_2", "partner") == 0
    db.close()


def test_a_read_works_whatever_the_request_before_left_unread_on_the_shared_connection(tmp_path):
    # The store's one connection serves every gRPC thread. A request that read one row of a longer result
    # (fetchone) leaves it open, and DuckDB 2.0 then refuses to register an Arrow table on the connection:
    # a continuous agreement's BeginUpload failed INTERNAL in CI when a status poll had run just before.
    db = Database(tmp_path / "store.duckdb")
    repo = StandingRepository(db)
    _stand(repo, db, "agr_1", "vendor", [5, 9, 12])
    for leave_open in (db.reading, db.transaction):
        with leave_open() as con:
            assert con.execute("SELECT * FROM range(10)").fetchone() == (0,)
        assert repo.held_labels("agr_1", "vendor", np.array([9, 4], dtype=np.uint32)).tolist() == [9]
    db.close()
