"""Account-level reveal without processes: terms grants and amendments, the sealing construction,
the coordinator's rules (called directly, a DuckDB store on disk) and the target score.

Expected values are computed here by hand or with independent code (sets,
the cryptography library directly), never taken from the code under test.
"""

from __future__ import annotations

import csv
import json
import math
import struct

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cleanroom.coordinator.completion import _viewer_rows
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.overlap import SideTokens, account_masks, overlap_counts
from cleanroom.coordinator.release_policy import reveal_cells
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.crypto.sealed import (
    Opener,
    SealContext,
    Sealer,
    SealError,
    check_public,
    content_digest,
    fingerprint,
    pack_chunk,
    public_bytes,
    unpack_chunk,
)
from cleanroom.crypto.signing import Signer
from cleanroom.errors import DataLoss, FailedPrecondition, InputError, InvalidArgument, NotFound, PermissionDenied
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.reveal import reveal_count_problems, single_key_problems
from cleanroom.terms import amend_share, build_terms, canonical_json, parse_terms, terms_hash
from cleanroom_client.features.reveal import Revealed
from cleanroom_client.features.targets import ScoringConfig, build_targets, csv_rows, write_csv
from cleanroom_client.protocol.prepare import hash_context  # the client's own context, never retyped

V, P, M = "vendor", "partner", "mallory"


# -- terms --------------------------------------------------------------------------------------------


def test_reveal_grants_both_sides_transposed_and_shares():
    raw = build_terms(
        V,
        P,
        ["customer", "opportunity"],
        ["customer", "prospect"],
        reveal=[("opportunity", "customer")],
        share=["Account Owner"],
        their_share=["Company owner"],
    )
    assert raw["release"][V]["reveal"] == [["opportunity", "customer"]]
    assert raw["release"][P]["reveal"] == [["customer", "opportunity"]]
    assert raw["share"] == {V: ["Account Owner"], P: ["Company owner"]}
    terms = parse_terms(canonical_json(raw))
    assert terms.reveal_granted(V) == {("opportunity", "customer")} and terms.reveal_granted(P) == {("customer", "opportunity")}
    assert terms.shared_columns(P) == ("Company owner",) and terms.reveals()


def test_reveal_to_one_side_and_default_is_counts_only():
    one = parse_terms(
        canonical_json(
            build_terms(V, P, ["customer"], reveal=[("customer", "customer")], reveal_to="proposer", their_share=["Owner"])
        )
    )
    assert one.reveal_granted(V) == {("customer", "customer")} and one.reveal_granted(P) == set()
    plain = parse_terms(canonical_json(build_terms(V, P, ["customer"])))
    assert not plain.reveals() and plain.reveal_granted(V) == set() and plain.shared_columns(V) == ()
    assert "share" not in plain.raw and "reveal" not in plain.raw["release"][V]  # old terms hash the same as before


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (
            dict(reveal=[("customer", "nope")]),
            "reveal pair customer:nope must name one of your populations (customer) and then one of partner's",
        ),
        (
            dict(reveal=[("customer", "customer")], reveal_to="proposer", share=["Owner"]),
            "vendor shares columns, but partner is granted no account-level reveal",
        ),
        (dict(share=["Owner"]), "granted no account-level reveal"),
        (dict(reveal=[("customer", "customer")], share=["Owner", "owner"]), "names a column twice"),
        (dict(reveal=[("customer", "customer")], share=[" Owner"]), "share of vendor"),
        (dict(reveal=[("customer", "customer")], dp_epsilon=1.0), "cannot be combined with differential privacy"),
    ],
)
def test_bad_reveal_terms_are_refused(kwargs, needle):
    with pytest.raises(InvalidArgument) as info:
        build_terms(V, P, ["customer"], **kwargs)
    assert needle in str(info.value)


def test_amend_share_changes_only_the_amenders_columns_and_the_hash():
    base = canonical_json(build_terms(V, P, ["customer"], reveal=[("customer", "customer")], share=["Account Owner"]))
    amended = amend_share(base, P, ["Company owner", "Last Activity Date"])
    old, new = json.loads(base), json.loads(amended)
    assert new["share"] == {V: ["Account Owner"], P: ["Company owner", "Last Activity Date"]}
    assert {k: v for k, v in new.items() if k != "share"} == {k: v for k, v in old.items() if k != "share"}
    assert terms_hash(amended) != terms_hash(base)
    assert json.loads(amend_share(amended, P, []))["share"] == {V: ["Account Owner"]}
    assert amend_share(base, V, ["Account Owner"]) == base  # no change, same bytes


# -- sealing -----------------------------------------------------------------------------------------


def _ctx(**kw):
    return SealContext(**{"agreement_id": "agr_1", "terms_hash": "ab" * 32, "sender": P, "recipient": V, **kw})


def test_seal_opens_only_for_the_recipient_its_label_and_its_context():
    recipient, sender = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    sealer = Sealer(_ctx(), sender, public_bytes(recipient), b"digest")
    sealed = sealer.ephemeral_public + sealer.seal(7, b'{"Owner":"Dana Scully"}')
    assert Opener(_ctx(), recipient).open(7, sealed) == b'{"Owner":"Dana Scully"}'
    assert b"Dana" not in sealed
    for label, ctx, key in [
        (8, _ctx(), recipient),  # moved to another account
        (7, _ctx(agreement_id="agr_2"), recipient),  # replayed in another agreement
        (7, _ctx(terms_hash="cd" * 32), recipient),  # under other terms
        (7, _ctx(recipient=M), recipient),  # claimed for another viewer
        (7, _ctx(), X25519PrivateKey.generate()),  # someone else's key
    ]:
        with pytest.raises(SealError, match="fails authentication"):
            Opener(ctx, key).open(label, sealed)
    for i in (0, 31, 32, len(sealed) - 1):  # any bit of the ephemeral key, ciphertext or tag
        flipped = bytearray(sealed)
        flipped[i] ^= 1
        with pytest.raises(SealError):
            Opener(_ctx(), recipient).open(7, bytes(flipped))


def test_seal_is_deterministic_per_content_and_fresh_per_change():
    recipient, sender = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    d1 = content_digest(b"p" * 64, [(0, b"a"), (1, b"b")])
    d2 = content_digest(b"p" * 64, [(0, b"a"), (1, b"c")])
    one, again, other = (Sealer(_ctx(), sender, public_bytes(recipient), d) for d in (d1, d1, d2))
    assert (
        one.seal(0, b"a") == again.seal(0, b"a") and one.ephemeral_public == again.ephemeral_public
    )  # a resumed upload is identical
    assert other.ephemeral_public != one.ephemeral_public  # new content, new key: no nonce reuse across contents


def test_small_order_keys_and_bad_framing_are_refused():
    for bad in (bytes(32), (1).to_bytes(32, "little"), b"short"):
        with pytest.raises(ValueError):
            check_public(bad)
    eph = public_bytes(X25519PrivateKey.generate())
    blob = pack_chunk(eph, [(1, b"x" * 40), (5, b"y" * 40)])
    assert unpack_chunk(blob, "c") == (eph, [(1, b"x" * 40), (5, b"y" * 40)])
    for broken, needle in [
        (b"XXXX" + blob[4:], "must start with"),
        (blob[:-1], "truncated"),
        (pack_chunk(eph, [(5, b"x" * 40), (1, b"y" * 40)]), "strictly increasing"),
        (pack_chunk(eph, [(1, b"x" * 10)]), "a record holds"),
    ]:
        with pytest.raises(ValueError, match=needle):
            unpack_chunk(broken, "c")
    assert len(fingerprint(eph).split()) == 8


# -- the coordinator's rules --------------------------------------------------------------------------


@pytest.fixture
def coord(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    store = Store(tmp_path / "coordinator.duckdb", Signer(Ed25519PrivateKey.generate()))
    yield Coordinator(store)
    store.close()


KEYS = {V: X25519PrivateKey.generate(), P: X25519PrivateKey.generate()}


def _agree(coord, **kw):
    terms = build_terms(V, P, ["customer", "prospect"], min_count=kw.pop("min_count", 2), min_set_size=1, **kw)
    agreement = coord.propose(V, P, canonical_json(terms), public_bytes(KEYS[V]))
    return coord.approve(P, agreement["agreement_id"], agreement["terms_hash"], encryption_public=public_bytes(KEYS[P]))


def _run(coord, agreement, sets, fields, seal=True):
    """sets[party] = [(domain, population mask)]; fields[party][domain] = plaintext. Returns the run id."""
    terms = parse_terms(bytes(agreement["terms_json"]))
    secrets_, receipts = {p: new_secret() for p in sets}, {}
    for party, items in sets.items():
        peer = terms.other(party)
        pts = blind(
            secrets_[party], hash_to_points([d for d, _ in items], hash_context(agreement["agreement_id"], "domain")), workers=1
        )
        n = len(items)
        acc, pops = struct.pack(f"<{n}I", *range(n)), struct.pack(f"<{n}H", *[m for _, m in items])
        sealed = b""
        if seal and terms.shared_columns(party):
            revealed = {t for _, t in terms.reveal_granted(peer)}
            bits = sum(1 << i for i, p in enumerate(terms.populations[party]) if p in revealed)
            sealer = Sealer(
                SealContext(agreement["agreement_id"], agreement["terms_hash"], party, peer),
                KEYS[party],
                public_bytes(KEYS[peer]),
                b"d",
            )
            sealed = pack_chunk(
                sealer.ephemeral_public,
                [(i, sealer.seal(i, fields[party][d].encode())) for i, (d, m) in enumerate(items) if m & bits],
            )
        digest = chunk_digest(pts, acc, pops, b"", sealed)
        session = coord.begin_upload(
            party, agreement["agreement_id"], agreement["terms_hash"], OWN, "", n, 1, n, upload_digest([digest])
        )
        coord.put_chunk(party, session["upload_id"], 0, pts, acc, pops, digest, b"", sealed)
        receipts[party] = coord.commit_upload(party, session["upload_id"])
    run_id = receipts[V]["run_id"]
    for party in (V, P):
        status = coord.status(party, agreement["agreement_id"], run_id)
        points = blind(secrets_[party], next(iter(coord.peer_chunks(party, run_id)))["points"], workers=1)
        digest = chunk_digest(points)
        session = coord.begin_upload(
            party,
            agreement["agreement_id"],
            agreement["terms_hash"],
            REBLINDED,
            run_id,
            len(points) // 32,
            1,
            0,
            upload_digest([digest]),
            status["peer_upload_id"],
        )
        coord.put_chunk(party, session["upload_id"], 0, points, b"", b"", digest)
        coord.commit_upload(party, session["upload_id"])
    assert coord.status(V, agreement["agreement_id"], run_id)["state"] == "complete"
    return run_id


CUST, PROS, BOTH = 1, 2, 3


def _world():
    # shared c0..c5 (vendor customers; partner: c0-c3 customers, c4-c5 prospects), p0..p2 (both prospects: a cell of 3)
    vendor = (
        [(f"c{i}.example", CUST) for i in range(6)]
        + [(f"p{i}.example", PROS) for i in range(3)]
        + [(f"v{i}.example", CUST) for i in range(4)]
    )
    partner = (
        [(f"c{i}.example", CUST if i < 4 else PROS) for i in range(6)]
        + [(f"p{i}.example", PROS) for i in range(3)]
        + [("x.example", CUST)]
    )
    fields = {
        party: {d: json.dumps({"Owner": f"{party} owner of {d}"}) for d, _ in items}
        for party, items in ((V, vendor), (P, partner))
    }
    return {V: vendor, P: partner}, fields


def _open(agreement, viewer, rows):
    sender = P if viewer == V else V
    opener = Opener(SealContext(agreement["agreement_id"], agreement["terms_hash"], sender, viewer), KEYS[viewer])
    return {r["account"]: json.loads(opener.open(r["their_account"], r["sealed"])) for r in rows}


def test_reveal_is_granted_pairs_only_with_their_sealed_fields(coord):
    sets, fields = _world()
    agreement = _agree(
        coord, reveal=[("customer", "customer"), ("prospect", "prospect")], share=["Owner"], their_share=["Owner"], min_count=2
    )
    run_id = _run(coord, agreement, sets, fields)
    body, rows = coord.reveal(V, agreement["agreement_id"])
    # customer x customer: c0-c3 (4 >= 2); prospect x prospect: p0-p2 (3 >= 2). c4, c5 are vendor customers x partner prospects: not granted.
    # (k = 2 keeps every cell shown: at k = 3 see test_a_complement_of_a_suppressed_cell_reveals_no_account)
    assert {sets[V][r["account"]][0]: r["theirs"] for r in rows} == {
        **{f"c{i}.example": ["customer"] for i in range(4)},
        **{f"p{i}.example": ["prospect"] for i in range(3)},
    }
    opened = _open(agreement, V, rows)
    for r in rows:
        domain = sets[V][r["account"]][0]
        assert sets[P][r["their_account"]][0] == domain
        assert opened[r["account"]] == {"Owner": f"partner owner of {domain}"}
    assert body["rows"] == 7 and body["run_id"] == run_id and body["kind"] == "reveal"
    assert {(c["mine"], c["theirs"]): c["count"] for c in body["cells"]} == {
        ("customer", "customer"): 4,
        ("prospect", "prospect"): 3,
    }
    # Asking again: the same release, at no cost; the partner (granted too) gets its own, transposed.
    again, rows_again = coord.reveal(V, agreement["agreement_id"])
    assert again == body and [r["sealed"] for r in rows_again] == [r["sealed"] for r in rows]
    _, partner_rows = coord.reveal(P, agreement["agreement_id"])
    assert {sets[P][r["account"]][0] for r in partner_rows} == {sets[V][r["account"]][0] for r in rows}
    # Audited as counts, never contents; the sealed bytes sit in one place (the release), not two.
    entry = coord.store.row("SELECT details_json FROM audit_log WHERE action = 'release.reveal' ORDER BY seq LIMIT 1")
    details = json.loads(entry["details_json"])
    assert details["rows"] == 7 and "sealed" not in entry["details_json"] and "owner of" not in entry["details_json"]
    assert coord.store.row("SELECT count(*) AS n FROM reveal_rows WHERE viewer = ?", [V])["n"] == 0


def test_a_complement_of_a_suppressed_cell_reveals_no_account(coord):
    """At k = 3 the vendor's customer x prospect cell (c4, c5: 2 companies) is suppressed; with the total (9)
    and the other cells shown (4 + 3) it would come back by subtraction, so prospect x prospect (3 >= k) is
    suppressed as its complement: its 3 accounts are not revealed either, though the pair is granted."""
    sets, fields = _world()
    agreement = _agree(
        coord, reveal=[("customer", "customer"), ("prospect", "prospect")], share=["Owner"], their_share=["Owner"], min_count=3
    )
    _run(coord, agreement, sets, fields)
    overlap = coord.overlap(V, agreement["agreement_id"])
    shown = [c["count"] for c in overlap["cells"] if not c["suppressed"]]
    assert overlap["totals"]["overlap"] == 9 and not 0 <= 9 - sum(shown) < 3
    body, rows = coord.reveal(V, agreement["agreement_id"])
    assert {(c["mine"], c["theirs"]): c["suppressed"] for c in body["cells"]} == {
        ("customer", "customer"): False,
        ("prospect", "prospect"): True,
    }
    assert {sets[V][r["account"]][0] for r in rows} == {f"c{i}.example" for i in range(4)}
    assert body["rows"] == 4


def test_cells_below_min_count_reveal_nothing(coord):
    sets, fields = _world()
    agreement = _agree(
        coord, reveal=[("prospect", "prospect"), ("customer", "prospect")], share=["Owner"], their_share=["Owner"], min_count=4
    )
    _run(coord, agreement, sets, fields)
    body, rows = coord.reveal(V, agreement["agreement_id"])
    assert {(c["mine"], c["theirs"]): (c["count"], c["suppressed"]) for c in body["cells"]} == {
        ("customer", "prospect"): (None, True),
        ("prospect", "prospect"): (None, True),
    }  # 2 and 3 companies, both < 4
    assert rows == [] and body["rows"] == 0


def test_viewers_outside_the_grants_get_nothing(coord):
    sets, fields = _world()
    agreement = _agree(coord, reveal=[("customer", "customer")], reveal_to="proposer", their_share=["Owner"])
    _run(coord, agreement, sets, fields)
    with pytest.raises(PermissionDenied, match="grant partner no account-level reveal"):
        coord.reveal(P, agreement["agreement_id"])
    with pytest.raises(PermissionDenied, match="not a party"):
        coord.reveal(M, agreement["agreement_id"])
    with pytest.raises(NotFound):
        coord.reveal(V, agreement["agreement_id"], "run_does_not_exist")
    assert coord.store.row("SELECT count(*) AS n FROM releases WHERE kind = 'reveal'")["n"] == 0
    _, rows = coord.reveal(V, agreement["agreement_id"])
    assert len(rows) == 4


def test_sealed_fields_must_cover_exactly_the_revealable_accounts(coord):
    sets, fields = _world()
    agreement = _agree(coord, reveal=[("customer", "customer")], share=["Owner"], their_share=["Owner"])
    with pytest.raises(InvalidArgument, match="lacks sealed fields"):
        _run(coord, agreement, sets, fields, seal=False)
    plain = _agree(coord)  # no reveal: no sealed bytes accepted at all
    terms_json = bytes(plain["terms_json"])
    pts = blind(new_secret(), hash_to_points(["a.example"], b"x"), workers=1)
    acc, pops = struct.pack("<I", 0), struct.pack("<H", 1)
    sealed = pack_chunk(bytes(32), [(0, b"z" * 40)])
    digest = chunk_digest(pts, acc, pops, b"", sealed)
    session = coord.begin_upload(V, plain["agreement_id"], terms_hash(terms_json), OWN, "", 1, 1, 1, upload_digest([digest]))
    with pytest.raises(InvalidArgument, match="only own uploads of overlap runs carry sealed fields"):
        coord.put_chunk(V, session["upload_id"], 0, pts, acc, pops, digest, b"", sealed)


def test_keys_and_amendments(coord):
    terms = canonical_json(build_terms(V, P, ["customer"], reveal=[("customer", "customer")], share=["Owner"], min_set_size=1))
    with pytest.raises(InvalidArgument, match="must carry your X25519 encryption key"):
        coord.propose(V, P, terms)
    agreement = coord.propose(V, P, terms, public_bytes(KEYS[V]))
    agreement_id, h1 = agreement["agreement_id"], agreement["terms_hash"]
    with pytest.raises(FailedPrecondition, match="approve with your X25519"):
        coord.approve(P, agreement_id, h1)
    with pytest.raises(InvalidArgument, match="small order"):
        coord.approve(P, agreement_id, h1, encryption_public=bytes(32))
    with pytest.raises(InvalidArgument, match="only its own shared columns"):
        coord.approve(P, agreement_id, h1, b'{"share": [], "min_count": 1}', "", public_bytes(KEYS[P]))
    amended = amend_share(terms, P, ["Company owner"])
    with pytest.raises(FailedPrecondition, match="not the"):
        coord.approve(P, agreement_id, h1, b'{"share": ["Company owner"]}', h1, public_bytes(KEYS[P]))
    v2 = coord.approve(P, agreement_id, h1, b'{"share": ["Company owner"]}', terms_hash(amended), public_bytes(KEYS[P]))
    assert (v2["version"], v2["state"], v2["approved_by"]) == (2, "proposed", [P]) and bytes(v2["terms_json"]) == amended
    with pytest.raises(FailedPrecondition, match="not approved yet"):
        coord.begin_upload(V, agreement_id, v2["terms_hash"], OWN, "", 10, 1, 10, "0" * 64)
    with pytest.raises(FailedPrecondition, match="changed"):
        coord.approve(V, agreement_id, h1)  # the proposer's approval must name the amended terms
    with pytest.raises(FailedPrecondition, match="already gave agreement"):
        coord.approve(V, agreement_id, v2["terms_hash"], encryption_public=public_bytes(X25519PrivateKey.generate()))
    active = coord.approve(V, agreement_id, v2["terms_hash"], encryption_public=public_bytes(KEYS[V]))
    assert active["state"] == "active" and sorted(active["approved_by"]) == [P, V]
    assert {k["party"]: k["public_x25519"] for k in active["encryption"]} == {V: public_bytes(KEYS[V]), P: public_bytes(KEYS[P])}
    actions = [
        r["action"] for r in coord.store.rows("SELECT action FROM audit_log WHERE agreement_id = ? ORDER BY seq", [agreement_id])
    ]
    assert actions[:1] == ["agreement.proposed"] and "agreement.amended" in actions and actions[-1] == "agreement.approved"


def test_reveal_waits_for_current_terms_and_revocation_deletes_unreleased_rows(coord):
    sets, fields = _world()
    agreement = _agree(coord, reveal=[("customer", "customer")], share=["Owner"], their_share=["Owner"])
    _run(coord, agreement, sets, fields)
    amended = amend_share(bytes(agreement["terms_json"]), P, ["Owner", "Stage"])
    coord.approve(
        P, agreement["agreement_id"], agreement["terms_hash"], canonical_json({"share": ["Owner", "Stage"]}), terms_hash(amended)
    )
    with pytest.raises(FailedPrecondition, match="revealed only under the terms both parties approve now"):
        coord.reveal(V, agreement["agreement_id"])
    assert coord.store.row("SELECT count(*) AS n FROM reveal_rows")["n"] > 0
    coord.revoke(V, agreement["agreement_id"], "test")
    assert coord.store.row("SELECT count(*) AS n FROM reveal_rows")["n"] == 0
    with pytest.raises(FailedPrecondition, match="revoked"):
        coord.reveal(V, agreement["agreement_id"])


# -- the score ----------------------------------------------------------------------------------------


def _account(name, domain, pops, **fields):
    return {
        "name": name,
        "domain": domain,
        "keys": [f"domain:{domain}"],
        "populations": pops,
        "rows": [1],
        "stage": None,
        "fields": fields,
    }


def _revealed(partner, rows):
    return Revealed(
        "agr_" + partner,
        "run_" + partner,
        partner,
        {"released_at": ""},
        [{"account": a, "label": i, "partner_populations": t, "partner_fields": f} for i, (a, t, f) in enumerate(rows)],
        ("Last Activity",),
    )


def test_score_by_hand():
    big = _account("Big Co", "big.example", ["opportunity"], Amount="$1,000,000")
    small = _account("Small Co", "small.example", ["customer"], Amount="999")
    none = _account("No Amount", "none.example", ["prospect"])
    a = _revealed("alpha", [(big, ["customer"], {"Last Activity": "2026-01-01"}), (small, ["prospect"], {"Last Activity": ""})])
    b = _revealed("beta", [(big, ["prospect"], {}), (none, ["opportunity"], {"Last Activity": "12/2/2025"})])
    targets = build_targets([a, b], ScoringConfig(), as_of=__import__("datetime").date(2026, 1, 91 - 60))
    by = {(t["domain"], t["partner"]): t for t in targets}
    # Big Co with alpha: deal size 1, stage opportunity 1, partner customer 1, activity 30 days ago, two partners.
    days = 30
    want = 100 * (0.30 * 1 + 0.20 * 1 + 0.25 * 1 + 0.15 * 0.5 ** (days / 90) + 0.10 * 0.5) / 1.0
    assert by[("big.example", "alpha")]["score"] == round(want, 2)
    # Small Co: deal size log(1000)/log(1000001), customer 0.4, partner prospect 0.4, no activity, one partner.
    want = 100 * (0.30 * math.log1p(999) / math.log1p(1_000_000) + 0.20 * 0.4 + 0.25 * 0.4)
    assert by[("small.example", "alpha")]["score"] == round(want, 2)
    # No Amount with beta: 0 + prospect 0.6 + partner opportunity 0.8 + activity 12/2/2025 (60 days) + one partner.
    want = 100 * (0.20 * 0.6 + 0.25 * 0.8 + 0.15 * 0.5 ** (60 / 90))
    assert by[("none.example", "beta")]["score"] == round(want, 2)
    assert [t["rank"] for t in targets] == [1, 2, 3, 4] and targets[0]["domain"] == "big.example"
    assert by[("big.example", "beta")]["partners_overlapping"] == ["alpha", "beta"]


def test_scoring_config_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"weights": {"depth": 0, "deal_size": 1}, "stage_values": {"customer": 0.9}}))
    config = ScoringConfig.load(path)
    assert config.weights["deal_size"] == 1 and config.weights["depth"] == 0 and config.weights["stage"] == 0.20
    assert config.stage_values["customer"] == 0.9 and config.stage_values["opportunity"] == 1.0
    for bad, needle in [
        ({"weights": {"luck": 1}}, "unknown weight"),
        ({"colour": 1}, "unknown scoring setting"),
        ({"weights": {p: 0 for p in ("deal_size", "stage", "partner_population", "engagement", "depth")}}, "must not all be 0"),
        ({"engagement_half_life_days": 0}, "positive"),
    ]:
        path.write_text(json.dumps(bad))
        with pytest.raises(InputError, match=needle):
            ScoringConfig.load(path)


def test_csv_export_defuses_formulas_from_partner_fields(tmp_path):
    evil = _account('=HYPERLINK("http://x")', "evil.example", ["customer"])
    targets = build_targets([_revealed("alpha", [(evil, ["customer"], {"Last Activity": "@SUM(A1)", "Note": "-2+3"})])])
    write_csv(targets, tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="", encoding="utf-8-sig") as fh:
        row = next(csv.DictReader(fh))
    assert (
        row["Account Name"] == '\'=HYPERLINK("http://x")'
        and row["Partner Last Activity"] == "'@SUM(A1)"
        and row["Partner Note"] == "'-2+3"
    )
    assert csv_rows(targets)[0][1] == f"{targets[0]['score']:.2f}"


def _plan_and_file(share: tuple[str, ...], headers: tuple[str, ...]):
    from pathlib import Path

    from cleanroom_client.features.reveal import RevealPlan
    from cleanroom_client.inputs.accounts import LoadResult
    from cleanroom_client.inputs.columns import ColumnMap

    plan = RevealPlan(party=V, peer=P, share=share, seal_populations=("customer",), view_populations=())
    columns = ColumnMap(key_columns=(0,), name_column=None, population_column=None, country_column=None, names=headers)
    return plan, LoadResult(Path("accounts.csv"), [], [], 0, columns)


def test_a_shared_column_is_the_one_the_terms_name_never_a_lookalike():
    from cleanroom_client.features.reveal import shared_headers

    plan, loaded = _plan_and_file(("Phone", "Account Owner"), ("Website", "Phone #", "Phone", "account_owner"))
    assert shared_headers(plan, loaded, "agr_1") == {"Phone": "Phone", "Account Owner": "account_owner"}
    # punctuation is not ignored when choosing what leaves the machine: "Phone #" is another column
    plan, loaded = _plan_and_file(("Phone",), ("Website", "Phone #"))
    with pytest.raises(InputError, match="no column 'Phone'"):
        shared_headers(plan, loaded, "agr_1")


def test_two_columns_that_could_be_the_shared_one_send_neither():
    from cleanroom_client.features.reveal import shared_headers

    plan, loaded = _plan_and_file(("Account Owner",), ("Website", "account_owner", "ACCOUNT-OWNER"))
    with pytest.raises(InputError, match="could be any of 'account_owner', 'ACCOUNT-OWNER'"):
        shared_headers(plan, loaded, "agr_1")


def test_reveal_rows_name_their_populations_and_company_and_agree_with_the_counts(coord):
    sets, fields = _world()
    agreement = _agree(
        coord, reveal=[("customer", "customer"), ("prospect", "prospect")], share=["Owner"], their_share=["Owner"], min_count=2
    )
    _run(coord, agreement, sets, fields)
    body, rows = coord.reveal(V, agreement["agreement_id"])
    assert len({r["component"] for r in rows}) == len(rows) == 7  # one key kind: every company is one matched pair
    for r in rows:  # the viewer's populations as it uploaded them, only on the shown pairs
        assert r["mine"] == (["customer"] if sets[V][r["account"]][1] == CUST else ["prospect"])
    assert reveal_count_problems(body["cells"], rows) == [] and single_key_problems(rows) == []


def test_reveal_rows_added_in_the_store_are_refused_before_anything_is_released(coord):
    """Rows attached to accounts the match never paired (as an attacker with the store would add, or a
    dishonest re-blinding would cause) exceed the counts: the coordinator refuses, audits, releases nothing."""
    sets, fields = _world()
    agreement = _agree(
        coord, reveal=[("customer", "customer"), ("prospect", "prospect")], share=["Owner"], their_share=["Owner"], min_count=2
    )
    run_id = _run(coord, agreement, sets, fields)
    stored = coord.store.rows("SELECT * FROM reveal_rows WHERE run_id = ? AND viewer = ? ORDER BY seq", [run_id, V])
    template = stored[0]
    unmatched = [i for i, (d, m) in enumerate(sets[V]) if d.startswith("v")]  # v0..v3: vendor customers nobody matched
    with coord.store.transaction() as con:
        for n, label in enumerate(unmatched):
            values = {**template, "seq": len(stored) + n, "account": label, "component": 100 + n}
            con.execute(
                f"INSERT INTO reveal_rows ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})", list(values.values())
            )
    with pytest.raises(DataLoss, match="disagree with its released counts"):
        coord.reveal(V, agreement["agreement_id"])
    assert coord.store.rows("SELECT * FROM releases WHERE kind = 'reveal'") == []
    refused = coord.store.rows("SELECT details_json FROM audit_log WHERE action = 'reveal.refused'")
    assert len(refused) == 1 and "companies are revealed on customer x customer" in refused[0]["details_json"]


@pytest.mark.parametrize("seed", range(40))
def test_reveal_checks_hold_for_honest_joins_and_catch_inflation(seed):
    """Property: rows built the way completion builds them from a real join (overlap_counts over random
    multi-key accounts and masks) always pass; more companies on a shown pair than its count never do."""
    rng = np.random.default_rng(seed)
    terms = parse_terms(
        canonical_json(build_terms(V, P, ["customer", "prospect"], reveal=[("customer", "customer"), ("prospect", "customer")]))
    )
    sides = []
    for _ in (V, P):
        n_acc = int(rng.integers(5, 30))
        tokens = rng.integers(
            0, 40, size=(int(rng.integers(n_acc, 2 * n_acc)),)
        )  # a small token space: many matches, shared keys
        owners = np.concatenate([np.arange(n_acc), rng.integers(0, n_acc, size=len(tokens) - n_acc)]).astype(np.uint32)
        keep = np.unique(tokens, return_index=True)[1]  # one account per token on a side (grouping merges the rest)
        masks = rng.integers(1, 4, size=n_acc).astype(np.uint16)
        packed = b"".join(int(t).to_bytes(32, "little") for t in tokens[keep])
        sides.append(SideTokens(packed, owners[keep], masks[owners[keep]], n_acc))
    counts = overlap_counts(sides[0], sides[1], 2, 2)
    result = {
        "matrix": counts.matrix,
        "overlap": counts.overlap,
        "a_accounts": counts.a_accounts,
        "b_accounts": counts.b_accounts,
    }
    cells = reveal_cells(terms, V, {**result, "parties": [V, P]})
    shown = {(c["mine"], c["theirs"]) for c in cells if not c["suppressed"]}
    rows = [
        r._asdict()
        for r in _viewer_rows(
            terms, V, shown, counts.pairs, counts.component, (account_masks(sides[0]), account_masks(sides[1])), {}
        )
    ]
    assert reveal_count_problems(cells, rows) == []
    for c in cells:  # more companies on a shown pair than its count: always caught
        if not c["suppressed"]:
            extra = [
                {
                    "account": 10_000 + i,
                    "their_account": 10_000 + i,
                    "mine": [c["mine"]],
                    "theirs": [c["theirs"]],
                    "component": 10_000 + i,
                }
                for i in range(c["count"] + 1)
            ]
            assert reveal_count_problems(cells, rows + extra)
