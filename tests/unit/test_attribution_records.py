"""Deal and touch records on the wire (cleanroom/attribution/recordio.py) and their
link at the coordinator (cleanroom/coordinator/linkage.py).

Round trips are exact (Decimal amounts keep their written scale); every field a
model relies on is refused when out of range, with the record's position; the
link is checked against a dictionary join written here.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from cleanroom.attribution import AttributionConfig
from cleanroom.attribution.recordio import (
    DEAL,
    NO_DATE,
    TOUCH,
    RecordError,
    amount_parts,
    check_deals,
    check_touches,
    day_number,
    day_of,
    decode_deals,
    encode_deals,
    encode_touches,
    split_rows,
)
from cleanroom.attribution.records import ROLES, Deal
from cleanroom.coordinator.linkage import from_blobs, link, to_blobs
from cleanroom.coordinator.overlap import SideTokens
from cleanroom.coordinator.store.records import OWN
from cleanroom.errors import InvalidArgument
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json
from cleanroom_client.protocol.prepare import hash_context  # the client's own context, never retyped

from inprocess import coordinator

DEALS = [
    Deal(
        ref=0, account=0, amount=Decimal("6250"), currency="USD", outcome="won", created=date(2025, 1, 2), closed=date(2025, 3, 1)
    ),
    Deal(
        ref=1,
        account=1,
        amount=Decimal("6250.00"),
        currency="EUR",
        outcome="lost",
        created=date(2024, 12, 31),
        closed=date(2025, 1, 1),
        deal_type="renewal",
    ),
    Deal(
        ref=7,
        account=1,
        amount=Decimal("0.125"),
        currency="BHD",
        outcome="open",
        created=date(2025, 5, 5),
        closed=None,
        deal_type="expansion",
    ),
    Deal(
        ref=9, account=2, amount=Decimal("0"), currency="JPY", outcome="open", created=date(1999, 5, 5), closed=date(2030, 1, 1)
    ),
]


def test_deals_round_trip_exactly():
    rows = check_deals(encode_deals(DEALS).tobytes(), total_accounts=3)
    back = decode_deals(rows)
    assert back == DEALS
    assert [str(d.amount) for d in back] == ["6250", "6250.00", "0.125", "0"]
    assert DEAL.itemsize == 30 and TOUCH.itemsize == 9


def _roles_and_days(rows) -> list[tuple[str, date]]:
    return [(ROLES[r], day_of(d)) for r, d in zip(rows["role"].tolist(), rows["day"].tolist(), strict=True)]


def test_touches_round_trip():
    days = [date(2025, 1, 1), date(1970, 1, 1), date(1969, 12, 31)]
    rows = check_touches(encode_touches([4, 0, 2], ["co-sell", "sourcing", "influence"], days).tobytes(), total_accounts=5)
    assert rows["account"].tolist() == [4, 0, 2]
    assert _roles_and_days(rows) == [("co-sell", days[0]), ("sourcing", days[1]), ("influence", days[2])]


@pytest.mark.parametrize(
    "amount, ok",
    [
        ("12500", (12500, 0)),
        ("99.95", (9995, 2)),
        ("1E+3", (1000, 0)),
        ("0.000001", (1, 6)),
        ("0.0000001", None),
        ("-1", None),
        ("NaN", None),
        ("9223372036854775808", None),
        ("9223372036854775807", (2**63 - 1, 0)),
    ],
)
def test_amount_parts(amount, ok):
    if ok is None:
        with pytest.raises(ValueError):
            amount_parts(Decimal(amount))
    else:
        assert amount_parts(Decimal(amount)) == ok


def _bad_deal(field: str, value) -> tuple[bytes, int]:
    rows = encode_deals(DEALS)
    rows[2][field] = value
    return rows.tobytes(), 2


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("account", 3, "account label must be in 0..2"),
        ("units", -5, "amount must be >= 0"),
        ("scale", 7, "more than 6 decimal places"),
        ("currency", b"usd", "ISO 4217"),
        ("currency", b"U$D", "ISO 4217"),
        ("outcome", 3, "outcome must be one of won, lost, open"),
        ("deal_type", 9, "deal type must be one of new, expansion, renewal"),
        ("created", day_number(date.max) + 1, "created must be a date"),
        ("closed", day_number(date(2025, 5, 4)), "cannot close before it was created"),
        ("closed", day_number(date.min) - 1, "closed must be a date"),
    ],
)
def test_each_bad_deal_field_is_refused_with_its_position(field, value, message):
    blob, index = _bad_deal(field, value)
    with pytest.raises(RecordError, match=message) as caught:
        check_deals(blob, total_accounts=3)
    assert caught.value.index == index


def test_won_deal_without_close_date_is_refused():
    rows = encode_deals(DEALS)
    rows[0]["closed"] = NO_DATE
    with pytest.raises(RecordError, match="needs its close date"):
        check_deals(rows.tobytes(), 3)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("account", 5, "account label must be in 0..4"),
        ("role", 4, "role must be one of"),
        ("day", -(2**31) + 5, "date must be a date"),
    ],
)
def test_each_bad_touch_field_is_refused(field, value, message):
    rows = encode_touches([0, 1, 2], ["sourcing"] * 3, [date(2025, 1, 1)] * 3)
    rows[1][field] = value
    with pytest.raises(RecordError, match=message) as caught:
        check_touches(rows.tobytes(), 5)
    assert caught.value.index == 1


def test_partial_records_are_refused():
    with pytest.raises(RecordError, match="not whole deal records of 30 bytes"):
        check_deals(encode_deals(DEALS).tobytes()[:-1], 3)
    with pytest.raises(RecordError, match="not whole touch records of 9 bytes"):
        check_touches(b"\x00" * 10, 3)


def test_split_rows_keeps_order_and_every_row():
    rows = encode_touches(list(range(10)), ["technical"] * 10, [date(2025, 1, 1)] * 10)
    parts = split_rows(rows, 3)
    assert [len(p) // TOUCH.itemsize for p in parts] == [4, 3, 3]
    assert b"".join(parts) == rows.tobytes()


def _side(tokens_per_account: list[list[bytes]], total: int) -> SideTokens:
    tokens = [(t, a) for a, ts in enumerate(tokens_per_account) for t in ts]
    return SideTokens(
        tokens=b"".join(t for t, _ in tokens),
        accounts=np.array([a for _, a in tokens], dtype=np.uint32),
        populations=np.ones(len(tokens), dtype=np.uint16),
        total_accounts=total,
    )


def test_link_matches_a_dictionary_join():
    rng = random.Random(5)
    token = [rng.randbytes(32) for _ in range(400)]
    # Vendor accounts hold tokens 0..299 (one or two each); partner accounts hold tokens 150..399.
    vendor_tokens = [[token[i]] + ([token[i + 150]] if i % 7 == 0 and i + 150 < 300 else []) for i in range(300)]
    partner_tokens = [[token[150 + j]] for j in range(250)]
    deals = [
        Deal(
            ref=r,
            account=rng.randrange(300),
            amount=Decimal(rng.randrange(10**6)) / 100,
            currency="USD",
            outcome="won",
            created=date(2025, 1, 1),
            closed=date(2025, 6, 1),
        )
        for r in range(500)
    ]
    touches = [
        (
            rng.randrange(250),
            rng.choice(["sourcing", "technical", "influence"]),
            date(2025, 1, 1) + timedelta(days=rng.randrange(150)),
        )
        for _ in range(900)
    ]
    linked = link(
        _side(vendor_tokens, 300),
        _side(partner_tokens, 250),
        encode_deals(deals[::-1]).tobytes(),
        encode_touches(*zip(*touches, strict=True)).tobytes(),
    )

    owner = {t: a for a, ts in enumerate(partner_tokens) for t in ts}
    matched = {(v, owner[t]) for v, ts in enumerate(vendor_tokens) for t in ts if t in owner}
    expected = sorted((v, day, role) for v, p in matched for (acc, role, day) in touches if acc == p)
    got = sorted(
        (v, day, role) for v, (role, day) in zip(linked.touches["account"].tolist(), _roles_and_days(linked.touches), strict=True)
    )
    assert got == expected and len(expected) > 100
    assert decode_deals(linked.deals) == deals  # sorted by ref again
    assert from_blobs(*to_blobs(linked)).deals_digest == linked.deals_digest


def test_link_refuses_repeated_refs():
    deals = [DEALS[0], Deal(**{**DEALS[1].__dict__, "ref": 0})]
    with pytest.raises(InvalidArgument, match="deal references repeat"):
        link(_side([[b"a" * 32]] * 2, 2), _side([[b"a" * 32]], 1), encode_deals(deals).tobytes(), b"")


def test_coordinator_refuses_a_bad_record_chunk_and_keeps_nothing(tmp_path: Path):
    coord, _ = coordinator(tmp_path)
    terms = build_terms("vendor", "partner", ["customer"], min_set_size=3, attribution=AttributionConfig())
    proposed = coord.propose("vendor", "partner", canonical_json(terms))
    agreement = coord.approve("partner", proposed["agreement_id"], proposed["terms_hash"])
    keys = [f"a{i}.example" for i in range(3)]
    points = blind(new_secret(), hash_to_points(keys, hash_context(agreement["agreement_id"], "domain")), workers=1)
    accounts, pops = np.arange(3, dtype="<u4").tobytes(), np.ones(3, dtype="<u2").tobytes()
    rows = encode_deals(DEALS)
    rows[3]["outcome"] = 7
    records = rows.tobytes()
    digest = chunk_digest(points, accounts, pops, records)
    session = coord.begin_upload(
        "vendor",
        agreement["agreement_id"],
        agreement["terms_hash"],
        OWN,
        "",
        3,
        1,
        3,
        upload_digest([digest]),
        purpose="attribution",
    )
    with pytest.raises(InvalidArgument, match="chunk 0, deal record 4: outcome must be one of"):
        coord.put_chunk("vendor", session["upload_id"], 0, points, accounts, pops, digest, records)
    assert coord.store.row("SELECT count(*) AS n FROM chunks")["n"] == 0
