"""The optional name + country key: "name|cc". Expected values written by hand."""

from __future__ import annotations

import pytest

from cleanroom_client.inputs.keys.names import canonical_country, canonical_name, name_key

SAME_NAME = [
    ("ACME, Inc.", "acme"),
    ("Acme Inc", "acme"),
    ("acme incorporated", "acme"),
    ("Acme LLC", "acme"),
    ("Acme L.L.C.", "acme"),
    ("Acme Ltd", "acme"),
    ("Acme Ltd.", "acme"),
    ("Acme Limited", "acme"),
    ("Acme GmbH", "acme"),
    ("Acme AG", "acme"),
    ("Acme SA", "acme"),
    ("Acme S.A.", "acme"),
    ("Acme SAS", "acme"),
    ("Acme SARL", "acme"),
    ("Acme BV", "acme"),
    ("Acme B.V.", "acme"),
    ("Acme NV", "acme"),
    ("Acme Oy", "acme"),
    ("Acme AB", "acme"),
    ("Acme AS", "acme"),
    ("Acme A/S", "acme"),
    ("Acme ApS", "acme"),
    ("Acme Pty Ltd", "acme"),
    ("Acme PLC", "acme"),
    ("Acme Corp", "acme"),
    ("Acme Corp.", "acme"),
    ("Acme Corporation", "acme"),
    ("Acme Co", "acme"),
    ("Acme Company", "acme"),
    ("Acme KK", "acme"),
    ("Acme S.p.A.", "acme"),
    ("Acme Srl", "acme"),
    ("Acme GmbH & Co. KG", "acme"),
    ("Acme Co., Ltd.", "acme"),
    ("  ACME   inc  ", "acme"),
    ("Acme Widgets Inc.", "acme widgets"),
    ("Ben & Jerry's", "ben and jerry s"),
    ("Ben and Jerry's Inc", "ben and jerry s"),
    ("Müller & Söhne GmbH", "muller and sohne"),
    ("Société Générale S.A.", "societe generale"),
    ("L'Oréal SA", "l oreal"),
    ("Toyota Motor Co., Ltd.", "toyota motor"),
]


@pytest.mark.parametrize(("raw", "expected"), SAME_NAME)
def test_canonical_name(raw: str, expected: str) -> None:
    assert canonical_name(raw) == expected


def test_legal_form_only_in_the_middle_is_kept() -> None:
    assert canonical_name("Inc Magazine Group") == "inc magazine group"
    assert canonical_name("AG Barr plc") == "ag barr"


def test_not_legal_forms_are_kept() -> None:
    # "Group"/"Holdings" often name a different entity than the bare name.
    assert canonical_name("Acme Group") == "acme group"
    assert canonical_name("Acme Holdings Ltd") == "acme holdings"


def test_name_that_is_only_a_legal_form_survives() -> None:
    assert canonical_name("Company") == "company"
    assert canonical_name("Inc.") == "inc"


COUNTRIES = [
    ("United States", "us"),
    ("USA", "us"),
    ("US", "us"),
    ("u.s.a.", "us"),
    ("United States of America", "us"),
    ("United Kingdom", "gb"),
    ("UK", "gb"),
    ("GB", "gb"),
    ("Great Britain", "gb"),
    ("England", "gb"),
    ("Germany", "de"),
    ("Deutschland", "de"),
    ("DE", "de"),
    ("France", "fr"),
    ("Brasil", "br"),
    ("Brazil", "br"),
    ("Japan", "jp"),
    ("Österreich", "at"),
    ("España", "es"),
    ("The Netherlands", "nl"),
    ("  australia ", "au"),
    ("", ""),
    (None, ""),
    ("Narnia", "narnia"),  # unknown: kept folded, still part of the key
    ("Cote d Ivoire", "cote-d-ivoire"),
]


@pytest.mark.parametrize(("raw", "expected"), COUNTRIES)
def test_canonical_country(raw: str | None, expected: str) -> None:
    assert canonical_country(raw) == expected


def test_name_key_matches_across_spellings() -> None:
    assert name_key("ACME, Inc.", "United States") == "acme|us"
    assert name_key("Acme Inc", "USA") == "acme|us"
    assert name_key("acme", "US") == "acme|us"


def test_name_key_keeps_countries_apart() -> None:
    assert name_key("Acme GmbH", "Germany") == "acme|de"
    assert name_key("Acme Ltd", "UK") == "acme|gb"


def test_name_key_without_country() -> None:
    assert name_key("Acme LLC") == "acme|"
    assert name_key("Acme LLC", "") == "acme|"


@pytest.mark.parametrize("blank", [None, "", "   ", "...", "&", "N/A", "Unknown", "none", "TBD"])
def test_name_key_none_without_a_name(blank: str | None) -> None:
    assert name_key(blank, "US") is None
