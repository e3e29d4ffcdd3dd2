"""``map --all`` without processes: which agreements run, how many reads of the file they need, and
that a read one set of agreements cannot use fails only those."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.errors import InputError
from cleanroom.terms import build_terms, canonical_json, terms_hash
from cleanroom_client.features.map_all import Job, Outcome, _read, classify, read_plan
from cleanroom_client.inputs.accounts import LoadResult
from cleanroom_client.inputs.columns import ColumnMap
from cleanroom_client.remote import Agreement

ME = "vendor"


def _agreement(aid: str, peer: str, state: str = "active", proposer: str = ME, **terms_kw) -> Agreement:
    counterparty = peer if proposer == ME else ME
    raw = canonical_json(build_terms(proposer, counterparty, ["customer", "prospect"], **terms_kw))
    approved = (proposer, counterparty) if state == "active" else (proposer,)
    return Agreement(aid, 1, raw, terms_hash(raw), proposer, counterparty, approved, state, "2026-12-05T00:00:00Z")


def test_only_active_agreements_run_the_others_are_skipped_with_why():
    agreements = [
        _agreement("agr_c", "partner-c", state="proposed"),
        _agreement("agr_a", "partner-a"),
        _agreement("agr_r", "partner-r", state="revoked"),
        _agreement("agr_b", "partner-b", proposer="partner-b"),
    ]
    jobs, others = classify(agreements, ME)
    assert [j.agreement.agreement_id for j in jobs] == ["agr_a", "agr_b"]
    assert [j.outcome.partner for j in jobs] == ["partner-a", "partner-b"]  # the other party, whoever proposed
    skipped = {o.agreement_id: o for o in others}
    assert skipped["agr_c"].state == "skipped" and "waiting for partner-c" in skipped["agr_c"].reason
    assert skipped["agr_r"].state == "skipped" and skipped["agr_r"].reason.startswith("revoked")


def test_terms_that_do_not_match_their_hash_fail_that_agreement_only():
    good = _agreement("agr_a", "partner-a")
    bad = _agreement("agr_b", "partner-b")
    tampered = Agreement(**{**bad.__dict__, "terms_json": bad.terms_json.replace(b"customer", b"prospect", 1)})
    jobs, others = classify([good, tampered], ME)
    assert [j.agreement.agreement_id for j in jobs] == ["agr_a"]
    assert others[0].state == "failed" and "do not match their hash" in others[0].reason


def _jobs(*key_kinds: list[str] | None, share: bool = False) -> list[Job]:
    agreements = [
        _agreement(
            f"agr_{i}",
            f"p{i}",
            key_kinds=kinds,
            **(
                {"reveal": [("customer", "customer")], "reveal_to": "counterparty", "share": ["Owner"]}
                if share and i == 0
                else {}
            ),
        )
        for i, kinds in enumerate(key_kinds)
    ]
    return classify(agreements, ME)[0]


def test_one_read_for_agreements_on_the_same_keys_two_when_names_are_mixed_in():
    assert list(read_plan(_jobs(None, None, ["domain"]))) == [False]
    plan = read_plan(_jobs(None, ["domain", "name"], None))
    assert {k: [j.agreement.agreement_id for j in v] for k, v in plan.items()} == {False: ["agr_0", "agr_2"], True: ["agr_1"]}


def _loaded() -> LoadResult:
    return LoadResult(Path("accounts.csv"), [], [], 0, ColumnMap((0,), None, None, None, names=("Website",)))


@pytest.mark.parametrize("share", [False, True])
def test_the_file_is_read_once_per_key_set_with_rows_kept_only_when_an_agreement_reveals(share):
    calls: list[tuple[bool, bool]] = []

    def load(name_key: bool, keep: bool) -> LoadResult:
        calls.append((name_key, keep))
        return _loaded()

    reads = _read(_jobs(None, None, None, share=share), load)
    assert calls == [(False, share)] and len(reads) == 1 and reads[0].agreements == ["agr_0", "agr_1", "agr_2"]


def test_a_read_that_fails_fails_its_agreements_only_and_a_file_that_serves_none_is_one_error():
    def load(name_key: bool, keep: bool) -> LoadResult:
        if not name_key:
            raise InputError("accounts.csv: no column with websites or domains")
        return _loaded()

    jobs = _jobs(None, ["domain", "name"])
    reads = _read(jobs, load)
    assert [r.loaded is not None for r in reads] == [False, True]
    assert jobs[0].outcome.state == "failed" and "no column with websites" in jobs[0].outcome.reason
    assert jobs[1].outcome.state == "skipped"  # untouched: it goes on to be blinded (state set when uploaded)
    with pytest.raises(InputError, match="no column with websites"):
        _read(_jobs(None, None), load)


def test_summary_objects_carry_what_each_state_needs():
    assert Outcome("agr_a", "p", "skipped", reason="revoked").to_json() == {
        "agreement_id": "agr_a",
        "partner": "p",
        "state": "skipped",
        "reason": "revoked",
    }
    done = Outcome("agr_b", "p", "complete", run_id="run_1", accounts=10, view={"cells": []}).to_json()
    assert done["run_id"] == "run_1" and done["accounts"] == 10 and done["overlap"] == {"cells": []}
