"""The web's read queries in-process: attribution pages in SQL, one item per job, only the page's bodies read."""

from __future__ import annotations

import pytest

from cleanroom.coordinator.attribution_jobs import run_attribution
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.reads import WebReads
from cleanroom.coordinator.store.records import StoredBody
from cleanroom.coordinator.web.attribution import attribution
from cleanroom.coordinator.web.auth import Principal

from web_data import AS_OF, build

VENDOR = Principal("0123456789ab", "vendor", "analyst")
PARTNER_A = Principal("0123456789ac", "partner-a", "analyst")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    made = build(tmp_path_factory.mktemp("reads"))
    data_dir = DataDir(made["data_dir"])
    store = Store(data_dir.store_path, data_dir.signer())
    coord = Coordinator(store)
    with WebReads(store).reading() as con:
        runs = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM runs WHERE purpose = 'attribution' AND state = 'complete' ORDER BY created_at"
            ).fetchall()
        ]
    made["job2"] = run_attribution(coord, "vendor", runs, as_of=AS_OF)["release_id"]  # a second, newer job
    yield made, coord
    store.close()


def test_attribution_pages_newest_first_reading_only_the_page(built, monkeypatch):
    made, coord = built
    reads = WebReads(coord.store)
    decompressed = []
    original = StoredBody.text
    monkeypatch.setattr(StoredBody, "text", property(lambda body: decompressed.append(1) or original.fget(body)))
    first = attribution(reads, VENDOR, limit=1)
    assert [i["job_id"] for i in first["items"]] == [made["job2"]] and first["next_cursor"]
    assert len(decompressed) == 1  # the page's one body; not every release the vendor holds
    second = attribution(reads, VENDOR, limit=1, cursor=first["next_cursor"])
    assert [i["job_id"] for i in second["items"]] == [made["ids"]["job"]] and second["next_cursor"] is None
    both = attribution(reads, VENDOR, limit=10)["items"]
    assert [i["job_id"] for i in both] == [made["job2"], made["ids"]["job"]]
    assert all(sorted(i["agreement_ids"]) == sorted([made["ids"]["attr_partner-a"], made["ids"]["attr_partner-b"]]) for i in both)
    one = attribution(reads, VENDOR, agreement_id=made["ids"]["attr_partner-b"], limit=10)["items"]
    assert [i["job_id"] for i in one] == [made["job2"], made["ids"]["job"]]
    partner = attribution(reads, PARTNER_A, limit=10)["items"]
    assert [i["job_id"] for i in partner] == [made["job2"], made["ids"]["job"]] and {i["view"] for i in partner} == {"partner"}


def test_a_revoked_agreement_hides_every_job_it_was_part_of(built):
    made, coord = built
    reads = WebReads(coord.store)
    coord.revoke("partner-b", made["ids"]["attr_partner-b"], "test")
    assert attribution(reads, VENDOR, limit=10)["items"] == []  # both jobs covered partner-b
    assert len(attribution(reads, PARTNER_A, limit=10)["items"]) == 2  # partner-a's own releases stay
