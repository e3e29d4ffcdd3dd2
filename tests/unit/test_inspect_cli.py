"""``cleanroom-client inspect``: what a file would match, for people and for machines (in-process; as a process:
tests/e2e/test_e2e_inspect_cli.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from cleanroom_client.cli import main

SALESFORCE = [
    "Account ID",
    "Account Name",
    "Website",
    "Type",
    "Billing Country",
    "Account Owner",
    "Industry",
    "Annual Revenue",
    "Last Activity",
]
HUBSPOT = [
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Website URL",
    "Lifecycle Stage",
    "Country/Region",
    "Company owner",
    "Annual Revenue",
    "Last Activity Date",
]


def sf(name: str, website: str, stage: str = "Customer", country: str = "United States") -> list[str]:
    return ["0015g00000", name, website, stage, country, "Dana Scully", "Software", "", ""]


SF_ROWS = [
    sf("Acme Inc", "https://www.acme.com/"),  # 1
    sf("Jane", "jane@gmail.com", "Prospect"),  # 2: free-mail only
    sf("Acme Corp", "sales@acme.com", "Prospect"),  # 3: same account as row 1
    sf("Beta GmbH", "beta.de", "Opportunity", "Germany"),  # 4
    sf("Gamma", "", "Customer"),  # 5: empty key
    sf("Delta", "delta.co.uk", "Competitor", "UK"),  # 6: unmapped stage
    sf("Eps", "http://eps .com", "Customer"),  # 7: unparseable
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["inspect", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# --- in-process: main() -----------------------------------------------------------------


def test_hubspot_xlsx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(HUBSPOT)
    sheet.append([101, "Acme", None, "https://acme.io/", "customer", "US", "Dana", 5, None])
    sheet.append(
        [102, "Beta", "beta.com.au", "http://www.beta.com.au", "marketingqualifiedlead", "Australia", "Dana", None, None]
    )
    sheet.append([103, "Acme Labs", "ACME.IO", None, "opportunity", "US", "Dana", None, None])
    book.save(tmp_path / "hs.xlsx")
    doc = inspect_json(capsys, str(tmp_path / "hs.xlsx"))
    assert doc["accounts"] == [
        {"row": 1, "rows": [1, 3], "keys": ["domain:acme.io"], "populations": ["customer", "opportunity"]},
        {"row": 2, "rows": [2], "keys": ["domain:beta.com.au"], "populations": ["prospect"]},
    ]
    assert doc["rejected"] == []
    assert doc["columns"]["key"] == ["Company Domain Name", "Website URL"]


def test_parquet_with_name_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    columns = {
        "Domain": ["acme.com", None, "gmail.com"],
        "Company": ["Acme, Inc.", "ACME Inc", "Bob's Bakery LLC"],
        "Country": ["USA", "United States", "UK"],
    }
    pq.write_table(pa.table(columns), tmp_path / "a.parquet")
    doc = inspect_json(capsys, str(tmp_path / "a.parquet"), "--name-key", "--default-population", "customer")
    assert doc["accounts"] == [
        {"row": 1, "rows": [1, 2], "keys": ["domain:acme.com", "name:acme|us"], "populations": ["customer"]},
        {"row": 3, "rows": [3], "keys": ["name:bob s bakery|gb"], "populations": ["customer"]},
    ]
    doc = inspect_json(capsys, str(tmp_path / "a.parquet"), "--default-population", "customer")
    assert [a["keys"] for a in doc["accounts"]] == [["domain:acme.com"]]
    assert [r["row"] for r in doc["rejected"]] == [2, 3]


def test_overrides_and_population_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["Site", "Org", "Tier", "Where"],
        [["acme.com", "Acme", "Gold", "DE"], ["beta.com", "Beta", "Silver", "FR"]],
    )
    mapping = tmp_path / "tiers.json"
    mapping.write_text(json.dumps({"gold": "partner", "Silver": "reseller"}))
    doc = inspect_json(
        capsys,
        str(path),
        "--key-column",
        "site",
        "--name-column",
        "ORG",
        "--population-column",
        "tier",
        "--country-column",
        "where",
        "--population-map",
        str(mapping),
        "--name-key",
    )
    assert doc["accounts"] == [
        {"row": 1, "rows": [1], "keys": ["domain:acme.com", "name:acme|de"], "populations": ["partner"]},
        {"row": 2, "rows": [2], "keys": ["domain:beta.com", "name:beta|fr"], "populations": ["reseller"]},
    ]
    assert doc["totals"]["by_population"] == {"partner": 1, "reseller": 1}


OPPORTUNITIES = ["Opportunity ID", "Opportunity Name", "Account Name", "Website", "Amount", "Stage", "Close Date", "Type"]


@pytest.mark.parametrize("stage_header, id_header", [("Stage", "Opportunity ID"), ("Deal Stage", "Record ID")])
def test_an_opportunity_export_maps_accounts_by_deal_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stage_header: str, id_header: str
) -> None:
    """A deals export's "Type" is the deal's (New Business, Renewal), not the account's: the stage says
    won (customer), open (opportunity) or lost (prospect), and an account with several deals is in each."""
    header = [id_header if h == "Opportunity ID" else stage_header if h == "Stage" else h for h in OPPORTUNITIES]
    rows = [
        ["006A", "Acme - New", "Acme", "acme.com", "1000", "Closed Won", "2025-01-02", "New Business"],
        [
            "006B",
            "Acme - Upsell",
            "Acme",
            "https://www.acme.com/",
            "500",
            "Negotiation/Review",
            "2025-09-02",
            "Existing Business",
        ],
        ["006C", "Beta - New", "Beta", "beta.io", "900", "Closed Lost", "2025-03-01", "New Business"],
        ["006D", "Gamma - New", "Gamma", "gamma.org", "700", "Prospecting", "2025-10-01", "Renewal"],
        ["006E", "Delta - New", "Delta", "delta.net", "100", "On Hold", "2025-10-01", "New Business"],
    ]
    doc = inspect_json(capsys, str(write_csv(tmp_path / "opps.csv", header, rows)))
    assert doc["columns"]["population"] == stage_header and doc["columns"]["population_from"] == "deal stage"
    assert {a["keys"][0]: a["populations"] for a in doc["accounts"]} == {
        "domain:acme.com": ["customer", "opportunity"],
        "domain:beta.io": ["prospect"],
        "domain:gamma.org": ["opportunity"],
    }
    [rejected] = doc["rejected"]
    assert rejected["row"] == 5 and "'On Hold'" in rejected["reason"] and repr(stage_header) in rejected["reason"]
    # Naming the column says what it holds: then the account stages apply, and "New Business" is not one.
    doc = inspect_json(capsys, str(tmp_path / "opps.csv"), "--population-column", "Type")
    assert doc["accounts"] == [] and all(
        "'New Business'" in r["reason"] or "'Existing Business'" in r["reason"] or "'Renewal'" in r["reason"]
        for r in doc["rejected"]
    )


def test_unknown_override_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "c.csv", ["Website", "Type"], [["acme.com", "Customer"]])
    assert main(["inspect", str(path), "--population-column", "Stage"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: {path}: no column 'Stage' for the population/stage; columns found: Website, Type"
    )


def test_long_files_are_capped_for_people(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [sf(f"Co {i}", f"company{i:03d}.com") for i in range(120)] + [sf("Jane", "jane@gmail.com")] * 60
    path = write_csv(tmp_path / "big.csv", SALESFORCE, rows)
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Accounts (first 50 of 120; --json lists all)" in text
    assert "Rejected rows (first 50 of 60; --json lists all)" in text
    assert "company049.com" in text and "company050.com" not in text
    doc = inspect_json(capsys, str(path))
    assert len(doc["accounts"]) == 120 and len(doc["rejected"]) == 60
    assert doc["totals"]["rows"] == 180


def test_cell_text_is_not_rich_markup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "m.csv", ["Website"], [["[bold]x[/bold]"]])
    assert main(["inspect", str(path), "--default-population", "customer"]) == 0
    assert "[bold]x[/bold]" in capsys.readouterr().out
