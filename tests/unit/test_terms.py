"""Agreement terms: canonical serialisation, hashing, defaults, validation, grants.

Expected values are written out by hand (or computed with hashlib/json here),
never taken from cleanroom.terms itself.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json

import pytest

from cleanroom.errors import InvalidArgument
from cleanroom.terms import Terms, build_terms, canonical_json, parse_terms, terms_hash


def _valid() -> dict:
    """A hand-written valid terms object (what build_terms should produce with defaults)."""
    return {
        "schema": "cleanroom.terms/v1",
        "parties": ["vendor", "partner"],
        "populations": {"vendor": ["customer", "prospect", "opportunity"], "partner": ["customer", "prospect"]},
        "key_kinds": ["domain"],
        "guardrails": {"min_count": 5, "min_set_size": 50},
        "release": {
            "vendor": {"overlap_cells": "all", "totals": True},
            "partner": {"overlap_cells": "all", "totals": True},
        },
        "retention_seconds": 0,
        "hash_scope": "kind",
    }


def _canon(obj) -> bytes:
    # Independent canonical form: sorted keys, no whitespace, UTF-8.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# -- canonical_json / terms_hash -------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8():
    obj = {"b": 1, "a": [1, {"z": None, "y": True}], "c": "é"}
    assert canonical_json(obj) == b'{"a":[1,{"y":true,"z":null}],"b":1,"c":"\xc3\xa9"}'


def test_canonical_json_is_independent_of_insertion_order():
    one = {"x": 1, "y": {"q": 2, "p": 3}}
    two = {"y": {"p": 3, "q": 2}, "x": 1}
    assert canonical_json(one) == canonical_json(two) == b'{"x":1,"y":{"p":3,"q":2}}'


def test_canonical_json_is_stable_across_calls():
    terms = _valid()
    first = canonical_json(terms)
    assert all(canonical_json(copy.deepcopy(terms)) == first for _ in range(5))
    assert b" " not in first and b"\n" not in first


def test_terms_hash_is_sha256_hex():
    # FIPS 180-2 test vector for "abc".
    assert terms_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    blob = _canon(_valid())
    assert terms_hash(blob) == hashlib.sha256(blob).hexdigest()
    assert terms_hash(blob) != terms_hash(blob.replace(b'"min_count":5', b'"min_count":6'))


# -- build_terms -------------------------------------------------------------------


def test_build_terms_defaults():
    built = build_terms("vendor", "partner", ["customer", "prospect", "opportunity"], ["customer", "prospect"])
    assert built == _valid()
    assert built["guardrails"] == {"min_count": 5, "min_set_size": 50}
    for viewer in ("vendor", "partner"):
        assert built["release"][viewer] == {"overlap_cells": "all", "totals": True}


def test_build_terms_counterparty_defaults_to_same_populations():
    built = build_terms("vendor", "partner", ["customer", "prospect"])
    assert built["populations"] == {"vendor": ["customer", "prospect"], "partner": ["customer", "prospect"]}


def test_build_terms_roundtrips_through_parse():
    built = build_terms("vendor", "partner", ["customer"], min_count=3, min_set_size=10, key_kinds=["domain", "name"])
    terms = parse_terms(_canon(built))
    assert terms.parties == ("vendor", "partner")
    assert terms.min_count == 3 and terms.min_set_size == 10
    assert terms.key_kinds == ("domain", "name")


def test_build_terms_fails_early_on_bad_input():
    with pytest.raises(InvalidArgument, match="min_count"):
        build_terms("vendor", "partner", ["customer"], min_count=0)


# -- parse_terms: valid --------------------------------------------------------------


def test_parse_valid_terms():
    terms = parse_terms(_canon(_valid()))
    assert terms.parties == ("vendor", "partner")
    assert terms.populations == {"vendor": ("customer", "prospect", "opportunity"), "partner": ("customer", "prospect")}
    assert terms.key_kinds == ("domain",)
    assert (terms.min_count, terms.min_set_size, terms.retention_seconds) == (5, 50, 0)
    assert terms.other("vendor") == "partner" and terms.other("partner") == "vendor"


def test_parse_accepts_sixteen_populations():
    raw = _valid()
    raw["populations"]["vendor"] = [f"p{i}" for i in range(16)]
    assert len(parse_terms(_canon(raw)).populations["vendor"]) == 16


# -- parse_terms: malformed ----------------------------------------------------------


def _mutate(fn):
    raw = _valid()
    fn(raw)
    return _canon(raw)


def _set(path, value):
    def fn(raw):
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return fn


def _delete(path):
    def fn(raw):
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return fn


MALFORMED = {
    "wrong schema": (_mutate(_set(["schema"], "cleanroom.terms/v2")), "schema"),
    "no schema": (_mutate(_delete(["schema"])), "schema"),
    "same party twice": (_mutate(_set(["parties"], ["vendor", "vendor"])), "two different party names"),
    "one party": (_mutate(_set(["parties"], ["vendor"])), "parties"),
    "empty party name": (_mutate(_set(["parties"], ["vendor", ""])), "parties"),
    "missing populations of one party": (_mutate(_delete(["populations", "partner"])), "populations must name each party"),
    "no populations at all": (_mutate(_delete(["populations"])), "populations"),
    "empty population list": (_mutate(_set(["populations", "partner"], [])), "1 to 16 populations"),
    "17 populations": (_mutate(_set(["populations", "vendor"], [f"p{i}" for i in range(17)])), "1 to 16 populations"),
    "upper-case population": (_mutate(_set(["populations", "vendor"], ["Customer"])), "population names of vendor"),
    "population with space": (_mutate(_set(["populations", "vendor"], ["key account"])), "population names of vendor"),
    "population starting with dash": (_mutate(_set(["populations", "vendor"], ["-x"])), "population names of vendor"),
    "population of 33 chars": (_mutate(_set(["populations", "partner"], ["a" * 33])), "population names of partner"),
    "population not a string": (_mutate(_set(["populations", "partner"], [7])), "population names of partner"),
    "population with trailing newline": (_mutate(_set(["populations", "vendor"], ["customer\n"])), "population names of vendor"),
    "duplicate populations": (_mutate(_set(["populations", "vendor"], ["customer", "customer"])), "repeat"),
    "unknown key kind": (_mutate(_set(["key_kinds"], ["email"])), "key_kinds"),
    "empty key kinds": (_mutate(_set(["key_kinds"], [])), "key_kinds"),
    "duplicate key kind": (_mutate(_set(["key_kinds"], ["domain", "domain"])), "key_kinds"),
    "min_count 0": (_mutate(_set(["guardrails", "min_count"], 0)), "min_count"),
    "min_count bool": (_mutate(_set(["guardrails", "min_count"], True)), "min_count"),
    "min_count float": (_mutate(_set(["guardrails", "min_count"], 5.0)), "min_count"),
    "min_set_size 0": (_mutate(_set(["guardrails", "min_set_size"], 0)), "min_set_size"),
    "overlap_cells names a population the viewer lacks": (
        _mutate(_set(["release", "vendor", "overlap_cells"], [["partner-only", "customer"]])),
        "overlap_cells of vendor",
    ),
    "overlap_cells names a population the other side lacks": (
        # 'opportunity' is the vendor's, not the partner's: the partner's view is (partner pop, vendor pop).
        _mutate(_set(["release", "vendor", "overlap_cells"], [["customer", "opportunity"]])),
        "overlap_cells of vendor",
    ),
    "overlap_cells not a pair": (
        _mutate(_set(["release", "partner", "overlap_cells"], [["customer"]])),
        "overlap_cells of partner",
    ),
    "overlap_cells neither all nor list": (
        _mutate(_set(["release", "partner", "overlap_cells"], "some")),
        "overlap_cells of partner",
    ),
    "release for a stranger": (_mutate(_set(["release", "mallory"], {"overlap_cells": "all"})), "release must be keyed by party"),
    "negative retention": (_mutate(_set(["retention_seconds"], -1)), "retention_seconds"),
    "missing retention": (_mutate(_delete(["retention_seconds"])), "retention_seconds"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_parse_rejects_malformed_terms(case):
    blob, needle = MALFORMED[case]
    with pytest.raises(InvalidArgument) as info:
        parse_terms(blob)
    assert needle in str(info.value), f"{case}: message {str(info.value)!r} does not name {needle!r}"


@pytest.mark.parametrize(
    "blob",
    [
        json.dumps(_valid(), indent=2).encode(),  # whitespace
        json.dumps(_valid(), separators=(",", ":")).encode(),  # keys not sorted
        json.dumps(_valid(), sort_keys=True).encode(),  # ", " and ": " separators
        _canon(_valid()) + b"\n",  # trailing newline
    ],
)
def test_parse_rejects_non_canonical_json(blob):
    assert blob != _canon(_valid())
    with pytest.raises(InvalidArgument, match="canonical"):
        parse_terms(blob)


@pytest.mark.parametrize("blob", [b"\xff\xfe", b"{not json", b""])
def test_parse_rejects_non_json(blob):
    with pytest.raises(InvalidArgument, match="JSON"):
        parse_terms(blob)


def test_parse_rejects_non_object():
    with pytest.raises(InvalidArgument, match="object"):
        parse_terms(b"[1,2]")


# -- grants ----------------------------------------------------------------------------


def test_cells_granted_all_is_the_full_product_oriented_to_the_viewer():
    terms = parse_terms(_canon(_valid()))
    assert terms.cells_granted("vendor") == {
        ("customer", "customer"),
        ("customer", "prospect"),
        ("prospect", "customer"),
        ("prospect", "prospect"),
        ("opportunity", "customer"),
        ("opportunity", "prospect"),
    }
    assert terms.cells_granted("partner") == {
        ("customer", "customer"),
        ("customer", "prospect"),
        ("customer", "opportunity"),
        ("prospect", "customer"),
        ("prospect", "prospect"),
        ("prospect", "opportunity"),
    }
    assert terms.totals_granted("vendor") and terms.totals_granted("partner")


def test_cells_granted_explicit_list_and_no_totals():
    raw = _valid()
    raw["release"]["vendor"] = {"overlap_cells": [["customer", "prospect"], ["opportunity", "customer"]], "totals": False}
    raw["release"]["partner"] = {"overlap_cells": []}
    terms = parse_terms(_canon(raw))
    assert terms.cells_granted("vendor") == {("customer", "prospect"), ("opportunity", "customer")}
    assert terms.totals_granted("vendor") is False
    assert terms.cells_granted("partner") == set()
    assert terms.totals_granted("partner") is False  # absent means not granted


def test_viewer_without_release_entry_sees_nothing():
    raw = _valid()
    del raw["release"]["partner"]
    terms = parse_terms(_canon(raw))
    assert terms.cells_granted("partner") == set()
    assert terms.totals_granted("partner") is False
    assert len(terms.cells_granted("vendor")) == 6


def test_terms_is_frozen():
    terms = parse_terms(_canon(_valid()))
    assert isinstance(terms, Terms)
    with pytest.raises(dataclasses.FrozenInstanceError):
        terms.min_count = 1  # type: ignore[misc]
