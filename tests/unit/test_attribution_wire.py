"""Attribution jobs at the coordinator, in-process: what a job releases to whom, and
every refusal, with the store checked to be unchanged after each.

The runs are real (blinded points, re-blinding by both sides, deal and touch
records riding beside the points), only without gRPC and processes; the end-to-end
file drives the same code over mTLS.
"""

from __future__ import annotations

import json
import struct
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cleanroom.attribution import AttributionConfig, Deal, Touch, credit_deals, partner_release, summarize_partners
from cleanroom.attribution.recordio import encode_deals, encode_touches
from cleanroom.coordinator.attribution_jobs import run_attribution, show_attribution
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json
from cleanroom_client.protocol.prepare import hash_context  # the client's own context, never retyped

from inprocess import coordinator, tables

AS_OF = date(2025, 12, 31)
PARTNERS = ("partner-a", "partner-b")
# 12 vendor accounts, one deal each (deal i on account i); deal 11 is the vendor's alone.
DOMAINS = [f"acct{i}.example" for i in range(12)]
DEALS = [
    Deal(
        ref=i,
        account=i,
        amount=Decimal(1000 * (i + 1)),
        currency="USD",
        outcome=("won", "lost", "open")[i % 3],
        created=date(2025, 1, 1) + timedelta(days=i),
        closed=None if i % 3 == 2 else date(2025, 9, 1) + timedelta(days=i),
    )
    for i in range(12)
]


def _touches(partner: str) -> list[tuple[str, str, date]]:
    """(domain, role, day): partner-a sources the even deals, partner-b influences every third; both touch one non-deal account."""
    if partner == "partner-a":
        rows = [(DOMAINS[i], "sourcing", date(2025, 6, 1)) for i in range(0, 11, 2)] + [
            (DOMAINS[1], "technical", date(2025, 7, 1))
        ]
    else:
        rows = [(DOMAINS[i], "influence", date(2025, 8, 1)) for i in range(0, 11, 3)]
    return [*rows, (f"{partner}-only.example", "influence", date(2025, 8, 1))]


def _upload(
    coord: Coordinator,
    party: str,
    agreement: dict,
    kind: str,
    points: bytes,
    *,
    accounts=b"",
    pops=b"",
    records=b"",
    run_id="",
    of_upload="",
    n_accounts=0,
) -> dict:
    digest = chunk_digest(points, accounts, pops, records)
    session = coord.begin_upload(
        party,
        agreement["agreement_id"],
        agreement["terms_hash"],
        kind,
        run_id,
        len(points) // 32,
        1,
        n_accounts,
        upload_digest([digest]),
        of_upload,
        purpose="attribution",
    )
    coord.put_chunk(party, session["upload_id"], 0, points, accounts, pops, digest, records=records)
    return coord.commit_upload(party, session["upload_id"])


def _own(coord, party, agreement, secret, keys: list[str], records: bytes) -> dict:
    points = blind(secret, hash_to_points(keys, hash_context(agreement["agreement_id"], "domain")), workers=1)
    n = len(keys)
    return _upload(
        coord,
        party,
        agreement,
        OWN,
        points,
        accounts=struct.pack(f"<{n}I", *range(n)),
        pops=struct.pack(f"<{n}H", *[1] * n),
        records=records,
        n_accounts=n,
    )


def _reblind(coord, party, agreement, secret, run_id) -> None:
    status = coord.status(party, agreement["agreement_id"], run_id)
    chunk = next(iter(coord.peer_chunks(party, run_id)))
    _upload(
        coord,
        party,
        agreement,
        REBLINDED,
        blind(secret, chunk["points"], workers=1),
        run_id=run_id,
        of_upload=status["peer_upload_id"],
    )


def agree(coord: Coordinator, partner: str, config: AttributionConfig | None = AttributionConfig(), models=None) -> dict:
    terms = build_terms("vendor", partner, ["customer"], min_set_size=3, attribution=config, attribution_models=models)
    proposed = coord.propose("vendor", partner, canonical_json(terms))
    return coord.approve(partner, proposed["agreement_id"], proposed["terms_hash"])


def attribution_run(coord: Coordinator, agreement: dict, partner: str, deals=DEALS, complete: bool = True) -> str:
    """The vendor's deals and the partner's touches, both blinded and re-blinded: a complete attribution run."""
    secrets = {"vendor": new_secret(), partner: new_secret()}
    vendor = _own(coord, "vendor", agreement, secrets["vendor"], DOMAINS, encode_deals(deals).tobytes())
    run_id = vendor["run_id"]
    if not complete:
        return run_id
    rows = _touches(partner)
    accounts = sorted({d for d, _, _ in rows})
    _own(
        coord,
        partner,
        agreement,
        secrets[partner],
        accounts,
        encode_touches([accounts.index(d) for d, _, _ in rows], [r for _, r, _ in rows], [day for _, _, day in rows]).tobytes(),
    )
    for party in ("vendor", partner):
        _reblind(coord, party, agreement, secrets[party], run_id)
    assert coord.status("vendor", agreement["agreement_id"], run_id)["state"] == "complete"
    return run_id


def _state(coord: Coordinator) -> dict:
    """Everything a refused job could have changed: every table of the store (as DuckDB lists them), the audit chain minus denials."""
    store = coord.store
    return {
        table: sorted(
            map(
                repr,
                store.rows(f'SELECT * FROM "{table}"' + (" WHERE action <> 'request.denied'" if table == "audit_log" else "")),
            )
        )
        for table in tables(coord)
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    coord, _ = coordinator(Path(tmp_path_factory.mktemp("attribution-wire")))
    agreements = {p: agree(coord, p) for p in PARTNERS}
    runs = {p: attribution_run(coord, agreements[p], p) for p in PARTNERS}
    return coord, agreements, runs


def _expected(model: str, partners=PARTNERS):
    deals = DEALS
    touches: dict[int, list[Touch]] = {}
    for p in partners:
        for domain, role, day in _touches(p):
            if domain in DOMAINS:
                touches.setdefault(DOMAINS.index(domain), []).append(Touch(p, role, day))
    credits = credit_deals(deals, touches, AttributionConfig(), AS_OF, model)
    return credits, {s.partner: s for s in summarize_partners(deals, credits, partners=partners)}


def test_a_job_releases_per_deal_credit_to_the_vendor_and_own_figures_to_each_partner(world):
    coord, agreements, runs = world
    release = run_attribution(coord, "vendor", [runs[p] for p in PARTNERS], "linear", AS_OF.isoformat())
    body = json.loads(release["body_json"])
    credits, summaries = _expected("linear")
    assert body["viewer"] == "vendor" and body["model"] == "linear"
    assert [{k: v for k, v in d.items() if k not in ("amount", "currency")} for d in body["deals"]] == [
        c.to_dict() for c in credits
    ]
    assert body["partners"] == [summaries[p].to_dict() for p in PARTNERS]
    assert body["deals"][11]["credits"] == {} and body["deals"][0]["credits"], "deal 11's account no partner touched"
    # Each partner: its own figures under the agreed model (role-split), from the same job.
    _agreed_credits, agreed = _expected("role-split")
    for p in PARTNERS:
        shown = show_attribution(coord, p, agreements[p]["agreement_id"])
        mine = json.loads(shown["body_json"])
        assert mine["job_id"] == body["job_id"] and mine["model"] == "role-split" and mine["viewer"] == p
        want = partner_release(agreed[p], AttributionConfig())
        assert {k: mine[k] for k in want} == want
        assert not any(o in shown["body_json"] for o in PARTNERS if o != p)
    # The vendor may look again: the same release, unchanged.
    assert show_attribution(coord, "vendor", agreements["partner-a"]["agreement_id"])["body_json"] == release["body_json"]


def test_refusals_change_nothing(world):
    coord, agreements, runs = world
    both = [runs[p] for p in PARTNERS]
    # Further agreements to refuse with: terms that forbid linear, other shared parameters, other deals, an incomplete run.
    restricted = agree(coord, "partner-a", models=["role-split"])
    restricted_run = attribution_run(coord, restricted, "partner-a")
    longer = agree(coord, "partner-b", AttributionConfig(lookback_days=90))
    longer_run = attribution_run(coord, longer, "partner-b")
    other_deals = agree(coord, "partner-b")
    other_run = attribution_run(
        coord,
        other_deals,
        "partner-b",
        deals=[*DEALS[:11], Deal(11, 11, Decimal(5), "USD", "lost", date(2025, 1, 1), date(2025, 2, 1))],
    )
    waiting = agree(coord, "partner-b")
    waiting_run = attribution_run(coord, waiting, "partner-b", complete=False)
    revoked = agree(coord, "partner-a")
    revoked_run = attribution_run(coord, revoked, "partner-a")
    coord.revoke("partner-a", revoked["agreement_id"], "ended")
    plain = agree(coord, "partner-b", None)
    future = (date.today() + timedelta(days=2)).isoformat()
    cases = {
        "partner runs a job": (
            lambda: run_attribution(coord, "partner-a", [runs["partner-a"]]),
            PermissionDenied,
            "only the vendor",
        ),
        "outsider": (lambda: run_attribution(coord, "mallory", both), (PermissionDenied, NotFound), ""),
        "no runs": (lambda: run_attribution(coord, "vendor", []), InvalidArgument, "at least one"),
        "run named twice": (lambda: run_attribution(coord, "vendor", [both[0], both[0]]), InvalidArgument, "named twice"),
        "unknown run": (lambda: run_attribution(coord, "vendor", ["run_nope"]), NotFound, "does not exist"),
        "unknown model": (lambda: run_attribution(coord, "vendor", both, "magic"), InvalidArgument, "unknown model 'magic'"),
        "model the terms forbid": (
            lambda: run_attribution(coord, "vendor", [runs["partner-b"], restricted_run], "linear"),
            FailedPrecondition,
            f"model 'linear' is not allowed by the terms of {restricted['agreement_id']}",
        ),
        "future as_of": (lambda: run_attribution(coord, "vendor", both, "", future), InvalidArgument, "is in the future"),
        "as_of not a date": (
            lambda: run_attribution(coord, "vendor", both, "", "12/31/2025"),
            InvalidArgument,
            "not an ISO date",
        ),
        "shared parameters differ": (
            lambda: run_attribution(coord, "vendor", [runs["partner-a"], longer_run]),
            FailedPrecondition,
            "lookback_days",
        ),
        "different deals": (
            lambda: run_attribution(coord, "vendor", [runs["partner-a"], other_run]),
            FailedPrecondition,
            "different deal records",
        ),
        "two runs of one agreement": (
            lambda: run_attribution(coord, "vendor", [restricted_run, restricted_run]),
            InvalidArgument,
            "named twice",
        ),
        "incomplete run": (
            lambda: run_attribution(coord, "vendor", [waiting_run]),
            FailedPrecondition,
            "waiting for partner-b's upload",
        ),
        "revoked agreement": (lambda: run_attribution(coord, "vendor", [revoked_run]), FailedPrecondition, "was revoked"),
        "show of another partner's agreement": (
            lambda: show_attribution(coord, "partner-b", agreements["partner-a"]["agreement_id"]),
            (PermissionDenied, NotFound),
            "",
        ),
        "show before any job": (
            lambda: show_attribution(coord, "partner-a", restricted["agreement_id"]),
            FailedPrecondition,
            "nothing has been released",
        ),
        "show without attribution": (
            lambda: show_attribution(coord, "vendor", plain["agreement_id"]),
            FailedPrecondition,
            "does not include attribution",
        ),
    }
    before = _state(coord)
    problems = []
    for name, (call, error, text) in cases.items():
        try:
            call()
        except error as exc:  # type: ignore[misc]
            if text not in str(exc):
                problems.append(f"{name}: {exc}")
        except Exception as exc:  # any other error is a wrong refusal
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            problems.append(f"{name}: accepted")
        if _state(coord) != before:
            problems.append(f"{name}: changed the store")
            before = _state(coord)
    assert problems == []
    # And the same runs still make a job.
    assert (
        json.loads(run_attribution(coord, "vendor", [runs["partner-b"], restricted_run], "role-split")["body_json"])["model"]
        == "role-split"
    )
