"""Hash scopes (cleanroom.terms.HASH_SCOPES): what a key's point binds besides the key.

Terms proposed now hash by key kind; terms without the field (proposed before) by agreement and kind,
so a party that upgrades keeps matching a partner that has not. Inside ``hashing_once`` (map --all)
each key value is hashed once for every agreement that hashes by kind, and the upload is byte for byte
the one ``prepare`` makes on its own. The contexts are written out here, not taken from the code.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cleanroom.errors import InvalidArgument
from cleanroom.psi import POINT_SIZE, blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json, parse_terms
from cleanroom_client.inputs.accounts import Account, MatchKey
from cleanroom_client.protocol import hashed_keys
from cleanroom_client.protocol.prepare import prepare


def _terms(populations: list[str], scope: str | None = "kind"):
    raw = build_terms("vendor", "partner", populations, min_set_size=1)
    if scope is None:
        del raw["hash_scope"]  # as proposed before hash scopes existed
    else:
        raw["hash_scope"] = scope
    return parse_terms(canonical_json(raw))


ACCOUNTS = [
    Account((i + 1,), (MatchKey("domain", f"d{i}.com"),), ("customer" if i % 3 else "prospect",), None, f"d{i}.com")
    for i in range(40)
]


def _real_points(prepared) -> set[bytes]:
    return {bytes(p) for p in np.frombuffer(prepared.points, dtype=f"V{POINT_SIZE}").tolist()}


@pytest.mark.parametrize(("scope", "context"), [("kind", b"*/domain"), (None, b"agr_7/domain"), ("agreement", b"agr_7/domain")])
def test_each_scope_hashes_under_its_own_context(scope, context):
    terms = _terms(["customer", "prospect"], scope)
    assert terms.hash_scope == (scope or "agreement")
    secret = new_secret()
    prepared = prepare(ACCOUNTS, terms, "vendor", "agr_7", secret)
    expected = blind(secret, hash_to_points([a.keys[0].value for a in ACCOUNTS], context), workers=1)
    # Every account's point is there (canary points besides them).
    assert {expected[i : i + POINT_SIZE] for i in range(0, len(expected), POINT_SIZE)} <= _real_points(prepared)


def test_an_unknown_scope_is_refused():
    raw = build_terms("vendor", "partner", ["customer"], min_set_size=1)
    raw["hash_scope"] = "nothing"
    with pytest.raises(InvalidArgument, match="hash_scope"):
        parse_terms(canonical_json(raw))
    assert json.loads(canonical_json(build_terms("v", "p", ["customer"])))["hash_scope"] == "kind"


def test_sharing_hashes_across_agreements_changes_no_byte_and_hashes_each_value_once():
    agreements = [("agr_1", _terms(["customer"])), ("agr_2", _terms(["customer", "prospect"])), ("agr_3", _terms(["prospect"]))]
    secrets = {agr: new_secret() for agr, _ in agreements}
    alone = {agr: prepare(ACCOUNTS, terms, "vendor", agr, secrets[agr]) for agr, terms in agreements}
    with hashed_keys.hashing_once() as cache:
        shared = {agr: prepare(ACCOUNTS, terms, "vendor", agr, secrets[agr]) for agr, terms in agreements}
        known_values, known_points = cache._known[b"*/domain"]
    for agr, _ in agreements:
        assert shared[agr].points == alone[agr].points
        assert shared[agr].accounts.tolist() == alone[agr].accounts.tolist()
        assert shared[agr].canary_positions == alone[agr].canary_positions
    # Every value once, with its own point.
    values = known_values.to_pylist()
    assert sorted(values) == sorted({a.keys[0].value for a in ACCOUNTS})
    assert known_points.tobytes() == hash_to_points(values, b"*/domain")


def test_agreements_hashing_by_agreement_do_not_use_the_shared_cache():
    terms = _terms(["customer"], "agreement")
    with hashed_keys.hashing_once() as cache:
        prepare(ACCOUNTS, terms, "vendor", "agr_9", new_secret())
    assert cache._known == {}
