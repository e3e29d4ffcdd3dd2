"""Pipeline value on the client and in the terms: amounts per account (joined, whole units, clamped and
counted), their spread over upload chunks, and the grant's checks. Expected values are written out here."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from cleanroom.errors import InputError, InvalidArgument
from cleanroom.homomorphic import CIPHERTEXT_SIZE
from cleanroom.terms import build_terms, canonical_json, parse_terms
from cleanroom.terms_value import value_grant, value_grant_json
from cleanroom_client.features.value_amounts import account_amounts
from cleanroom_client.inputs.accounts import load_accounts
from cleanroom_client.inputs.deals import load_deals
from cleanroom_client.protocol.prepare import PreparedUpload

from tabular import write_csv

DEAL_HEADERS = [
    "Opportunity ID",
    "Account Name",
    "Website",
    "Amount",
    "Opportunity Currency",
    "Stage",
    "Created Date",
    "Close Date",
]


def _files(tmp_path: Path, currency2: str = "USD") -> tuple[Path, Path]:
    accounts = tmp_path / "accounts.csv"
    write_csv(accounts, ["Account Name", "Website"], [["A", "a.com"], ["B", "https://www.b.com/x"], ["C", "c.com"]])
    deals = tmp_path / "deals.csv"
    write_csv(
        deals,
        DEAL_HEADERS,
        [
            ["o1", "A", "a.com", "1,000.99", "USD", "Prospecting", "2025-01-01", ""],
            ["o2", "A", "www.a.com", "250.50", "USD", "Negotiation/Review", "2025-01-01", ""],
            ["o3", "B", "b.com", "900,000", currency2, "Qualification", "2025-01-01", ""],
            ["o4", "B", "b.com", "5", "USD", "Closed Won", "2025-01-01", "2025-02-01"],
            ["o5", "Z", "z.com", "70", "USD", "Prospecting", "2025-01-01", ""],
        ],
    )
    return accounts, deals


def test_amounts_join_by_key_drop_cents_and_clamp(tmp_path: Path):
    accounts_file, deals_file = _files(tmp_path)
    loaded = load_accounts(accounts_file, default_population="opportunity")
    by_domain = {a.keys[0].value: i for i, a in enumerate(loaded.accounts)}
    labels = [by_domain["c.com"], by_domain["a.com"], by_domain["b.com"]]  # label order differs from file order
    amounts = account_amounts(loaded.accounts, labels, load_deals(deals_file), "open", 100_000)
    # a.com: 1000.99 + 250.50 = 1251.49 -> 1251; b.com: 900000 open -> clamped to the cap; c.com: no deals.
    assert amounts.values == [0, 1251, 100_000]
    assert (amounts.clamped, amounts.deals_counted, amounts.deals_unmatched, amounts.currency) == (1, 3, 1, "USD")
    won = account_amounts(loaded.accounts, labels, load_deals(deals_file), "won", 100_000)
    assert won.values == [0, 0, 5] and won.clamped == 0


def test_mixed_currencies_are_refused(tmp_path: Path):
    accounts_file, deals_file = _files(tmp_path, currency2="EUR")
    loaded = load_accounts(accounts_file, default_population="opportunity")
    with pytest.raises(InputError, match=r"several currencies \(EUR, USD\)"):
        account_amounts(loaded.accounts, [0, 1, 2], load_deals(deals_file), "open", 10)


def test_encrypted_amounts_cover_every_label_once_across_chunks():
    n = 7
    prepared = PreparedUpload(
        points=bytes(32 * 10), accounts=np.array([0, 1, 2, 3, 4, 5, 6, 6, 5, 4], dtype=np.uint32),
        populations=np.ones(10, dtype=np.uint16), total_accounts=n, excluded=0, label_to_account=list(range(n)),
    )  # fmt: skip
    prepared.value_ciphertexts = b"".join(bytes([i]) * CIPHERTEXT_SIZE for i in range(n))
    runs = [c[6] for c in prepared.chunks(3)]  # four chunks of points
    covered = []
    for data in runs:
        if data:
            (start,) = struct.unpack_from("<I", data)
            body = data[4:]
            covered += [(start + j, body[j * CIPHERTEXT_SIZE]) for j in range(len(body) // CIPHERTEXT_SIZE)]
    assert covered == [(i, i) for i in range(n)]


def test_value_grant_rules():
    ok = build_terms("v", "p", ["opportunity"], ["customer"], dp_epsilon=1.0, dp_budget=2.0,
                     pipeline_value=value_grant_json([("opportunity", "customer")], 50_000, "won"))  # fmt: skip
    grant = value_grant(parse_terms(canonical_json(ok)).release, "v")
    assert grant is not None and (grant.cells, grant.cap, grant.kind, grant.dp) == (
        (("opportunity", "customer"),),
        50_000,
        "won",
        True,
    )
    with pytest.raises(InvalidArgument, match="needs differential privacy"):
        build_terms("v", "p", ["opportunity"], ["customer"], pipeline_value=value_grant_json([("opportunity", "customer")], 10))
    exact = build_terms("v", "p", ["opportunity"], ["customer"],
                        pipeline_value=value_grant_json([("opportunity", "customer")], 10, dp=False))  # fmt: skip
    assert value_grant(parse_terms(canonical_json(exact)).release, "v").dp is False
    with pytest.raises(InvalidArgument, match="cap must be"):
        build_terms(
            "v", "p", ["opportunity"], ["customer"], pipeline_value=value_grant_json([("opportunity", "customer")], 0, dp=False)
        )
    with pytest.raises(InvalidArgument, match="not granted"):
        raw = dict(exact)
        raw["release"]["v"]["overlap_cells"] = []
        parse_terms(canonical_json(raw))
    with pytest.raises(InvalidArgument, match="one-off"):
        build_terms("v", "p", ["opportunity"], ["customer"], epoch_seconds=86_400,
                    pipeline_value=value_grant_json([("opportunity", "customer")], 10, dp=False))  # fmt: skip
