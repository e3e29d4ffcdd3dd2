"""One header vocabulary, one row-to-keys rule and one grouping for accounts, deals and touches files.

What changed (issue 12): accounts files used to be read with their own header
list and normalisation (only spaces, "_" and "-" ignored), so "Account
Website", "Account: Website", "Account Domain" and "Contact Email" were key
columns in a deals or touches file but not in an accounts file, and the same
company could get a key from its deal and none from its account row. Every
file kind now reads headers through inputs/headers.py: the same synonyms per
field and the same normalisation (case, spaces and all punctuation ignored).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cleanroom_client.inputs import headers
from cleanroom_client.inputs.accounts import MatchKey, load_accounts
from cleanroom_client.inputs.deals import load_deals
from cleanroom_client.inputs.grouping import KeyGroups, group_keys
from cleanroom_client.inputs.headers import norm
from cleanroom_client.inputs.touches import load_touches


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header", ["Account Website", "Account: Website", "Account Domain", "Contact Email", "account_website"])
def test_account_side_key_headers_now_key_accounts_files_too(tmp_path: Path, header: str) -> None:
    value = "jane@acme.com" if "mail" in header.lower() else "https://www.acme.com/"
    accounts = load_accounts(_csv(tmp_path / "a.csv", [header, "Account Name", "Type"], [[value, "Acme", "Customer"]]))
    assert accounts.columns.describe()["key"] == [header]  # before: InputError "no website/domain/e-mail column found"
    assert [a.keys for a in accounts.accounts] == [(MatchKey("domain", "acme.com"),)]


def test_an_account_a_deal_and_a_touch_of_one_company_get_the_same_keys(tmp_path: Path) -> None:
    header = ["Account Website", "Account Name", "Billing Country"]
    row = ["https://www.acme.co.uk/", "Acme Ltd", "United Kingdom"]
    accounts = load_accounts(_csv(tmp_path / "a.csv", [*header, "Type"], [[*row, "Customer"]]), name_key=True)
    deals = load_deals(
        _csv(
            tmp_path / "d.csv",
            ["Opportunity ID", *header, "Amount", "Stage", "Created Date", "Close Date"],
            [["006A", *row, "100", "Closed Won", "2025-01-02", "2025-02-03"]],
        ),
        name_key=True,
    )
    touches = load_touches(_csv(tmp_path / "t.csv", [*header, "Role", "Date"], [[*row, "Sourcing", "2025-01-05"]]), name_key=True)
    expected = (MatchKey("domain", "acme.co.uk"), MatchKey("name", "acme|gb"))
    assert accounts.accounts[0].keys == expected
    assert deals.deals[0].keys == expected
    assert touches.touches[0].keys == expected


def test_headers_compare_with_case_spaces_and_punctuation_ignored() -> None:
    assert norm("Account: Website") == norm("account_website") == norm(" ACCOUNT-WEBSITE ") == "accountwebsite"
    assert norm("\ufeffCountry/Region") == norm("country region")


@pytest.mark.parametrize("name", [n for n in dir(headers) if n.endswith(("_HEADERS", "_MARKERS"))])
def test_each_synonym_is_written_once(name: str) -> None:
    synonyms = getattr(headers, name)
    assert len({norm(h) for h in synonyms}) == len(synonyms)  # two spellings that normalise alike are one synonym


def test_streamed_and_in_memory_grouping_are_one_rule() -> None:
    rows = [["a", "x"], ["b"], ["x", "c"], ["d"], ["b", "d"]]
    groups = KeyGroups()
    nodes = [groups.add(keys) for keys in rows]
    assert [groups.find(n) for n in nodes] == [0, 1, 0, 1, 1]  # the earliest row of a group is its root
    assert group_keys(rows).label_of_row == [0, 1, 0, 1, 1]
    assert group_keys(rows).account_keys == [("a", "c", "x"), ("b", "d")]


def test_populations_no_longer_needs_deals() -> None:
    # The deal stages live in codes.py; populations.py used to import deals.py lazily to dodge a cycle.
    code = (
        "import sys, cleanroom_client.inputs.accounts; "
        "assert 'cleanroom_client.inputs.deals' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
