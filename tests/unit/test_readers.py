"""Reading CRM exports, recognising their headers, mapping stages and deduplicating accounts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from cleanroom.errors import InputError
from cleanroom_client.inputs.accounts import Account, LoadResult, MatchKey, load_accounts
from cleanroom_client.inputs.readers import read_table

from tabular import write_parquet, write_xlsx

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


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sf_row(name: str, website: str, stage: str = "Customer", country: str = "US") -> list[str]:
    return ["001", name, website, stage, country, "Dana", "Software", "1000", "1/1/2026"]


def domains(result: LoadResult) -> list[list[str]]:
    return [[str(k) for k in a.keys] for a in result.accounts]


# --- readers -------------------------------------------------------------------


def test_csv_cells_stay_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["Website", "Zip", "Revenue"], [["acme.com", "00123", "1e5"], ["n/a", "", "NaN"]])
    table = read_table(path)
    assert table.columns == ["Website", "Zip", "Revenue"]
    assert table.rows == [("acme.com", "00123", "1e5"), ("n/a", None, "NaN")]


def test_csv_semicolons_quotes_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('\ufeffWebsite;Account Name\n"acme.com";"Acme; Inc"\nbeta.com;Beta\n', encoding="utf-8")
    table = read_table(path)
    assert table.columns == ["Website", "Account Name"]
    assert table.rows == [("acme.com", "Acme; Inc"), ("beta.com", "Beta")]


def test_csv_latin1_from_excel(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["Website", "Account Name"], [["mueller.de", "Müller GmbH"]], encoding="latin-1")
    assert read_table(path).rows == [("mueller.de", "Müller GmbH")]


def test_parquet_non_text_columns_become_text(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "a.parquet", ["Website", "Employees"], [["acme.com", 12], [None, 7]])
    table = read_table(path)
    assert table.columns == ["Website", "Employees"]
    assert table.rows == [("acme.com", "12"), (None, "7")]


def test_xlsx_rows_and_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        ["Website", "Employees", "Note"],
        [["acme.com", 12, None], [None, None, None], ["beta.com", 2.5, "x"]],
    )
    table = read_table(path)
    assert table.columns == ["Website", "Employees", "Note"]
    assert table.rows == [("acme.com", "12", None), ("beta.com", "2.5", "x")]  # the blank row is not a data row


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.csv", "no such file"),
        (lambda d: (d / "dir.csv").mkdir() or d / "dir.csv", "not a file"),
        (lambda d: (d / "a.json").write_text("{}") and d / "a.json", "unsupported format '.json'"),
        (lambda d: (d / "noext").write_text("x") and d / "noext", "unsupported format (no extension)"),
        (lambda d: (d / "e.csv").write_text("") or d / "e.csv", "the file is empty"),
        (lambda d: (d / "h.csv").write_text("Website,Name\n") and d / "h.csv", "the file is empty (a header but no data rows)"),
        (lambda d: (d / "b.csv").write_bytes(b"\x00\x01PK\x00garbage") and d / "b.csv", "binary file"),
        (lambda d: (d / "b.parquet").write_bytes(b"not parquet at all") and d / "b.parquet", "cannot be read as Parquet"),
        (lambda d: (d / "b.xlsx").write_bytes(b"not a zip file") and d / "b.xlsx", "cannot be read as XLSX"),
    ],
    ids=["missing", "directory", "json", "no-extension", "empty", "header-only", "binary-csv", "bad-parquet", "bad-xlsx"],
)
def test_bad_files_one_clear_line(tmp_path: Path, make, needle: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        read_table(path)
    message = str(caught.value)
    assert needle in message
    assert str(path) in message  # names the file
    assert "\n" not in message


def test_empty_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    Workbook().save(path)
    with pytest.raises(InputError, match="the file is empty"):
        read_table(path)


# --- header recognition ----------------------------------------------------------


def test_salesforce_report(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "sf.csv",
        SALESFORCE,
        [sf_row("Acme Inc", "https://www.acme.com/"), sf_row("Beta", "beta.co.uk", "Prospect", "UK")],
    )
    result = load_accounts(path)
    assert result.columns.describe() == {
        "key": ["Website"],
        "name": "Account Name",
        "population": "Type",
        "country": "Billing Country",
    }
    assert domains(result) == [["domain:acme.com"], ["domain:beta.co.uk"]]
    assert [a.populations for a in result.accounts] == [("customer",), ("prospect",)]
    assert result.accounts[0].name == "Acme Inc"
    assert result.accounts[0].domain == "acme.com"
    assert result.accounts[0].fields["Account Owner"] == "Dana"
    assert result.rows_read == 2 and result.rejected == []


def test_hubspot_export_domain_precedence(tmp_path: Path) -> None:
    rows = [
        ["1", "Acme", "acme.com", "https://www.acme-old.com", "customer", "United States", "Dana", "", ""],
        ["2", "Beta", "", "https://beta.io/home", "lead", "Germany", "Dana", "", ""],  # no domain: the URL is used
        ["3", "Gamma", "gmail.com", "gamma.de", "opportunity", "Germany", "Dana", "", ""],  # unusable domain: next column
        ["4", "Delta", "", "", "salesqualifiedlead", "", "Dana", "", ""],
    ]
    result = load_accounts(write_csv(tmp_path / "hs.csv", HUBSPOT, rows))
    assert result.columns.describe()["key"] == ["Company Domain Name", "Website URL"]
    assert result.columns.describe()["population"] == "Lifecycle Stage"
    assert result.columns.describe()["country"] == "Country/Region"
    assert domains(result) == [["domain:acme.com"], ["domain:beta.io"], ["domain:gamma.de"]]
    assert [a.populations for a in result.accounts] == [("customer",), ("prospect",), ("opportunity",)]
    assert [r.row for r in result.rejected] == [4]
    assert result.rejected[0].reason.startswith("empty key")


def test_generic_email_column_case_and_space_insensitive(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", ["  E-MAIL ", "COMPANY_NAME"], [["jane@acme.com", "Acme"], ["bob@gmail.com", "Bob's"]])
    result = load_accounts(path, default_population="customer")
    assert result.columns.describe()["key"] == ["E-MAIL"]  # header spaces are trimmed
    assert domains(result) == [["domain:acme.com"]]
    assert result.rejected[0].row == 2
    assert result.rejected[0].reason == "free-mail only (column 'E-MAIL': 'bob@gmail.com')"


def test_explicit_columns_win(tmp_path: Path) -> None:
    header = ["Website", "Corp Site", "Label", "Kind", "Nation"]
    path = write_csv(tmp_path / "o.csv", header, [["old.com", "new.com", "Acme", "Customer", "Germany"]])
    result = load_accounts(
        path, key_column="corp site", name_column="Label", population_column="KIND", country_column="Nation", name_key=True
    )
    assert result.columns.describe() == {"key": ["Corp Site"], "name": "Label", "population": "Kind", "country": "Nation"}
    assert domains(result) == [["domain:new.com", "name:acme|de"]]


def test_explicit_column_missing_names_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ["Website", "Type"], [["acme.com", "Customer"]])
    with pytest.raises(InputError) as caught:
        load_accounts(path, key_column="Domain Name")
    assert str(caught.value) == f"{path}: no column 'Domain Name' for the key; columns found: Website, Type"


def test_missing_key_column_names_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "k.csv", ["Account Name", "Type"], [["Acme", "Customer"]])
    with pytest.raises(InputError) as caught:
        load_accounts(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: no website/domain/e-mail column found")
    assert "columns found: Account Name, Type" in message
    assert "--key-column" in message


def test_name_key_alone_needs_no_domain_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "k.csv", ["Account Name", "Billing Country"], [["Acme Inc", "USA"], ["ACME, Inc.", "United States"]]
    )
    result = load_accounts(path, name_key=True, default_population="customer")
    assert domains(result) == [["name:acme|us"]]
    assert result.accounts[0].rows == (1, 2)


# --- populations -------------------------------------------------------------------


def test_default_stages_case_insensitive(tmp_path: Path) -> None:
    stages = [
        "customer - channel",
        "EVANGELIST",
        "Marketing Qualified Lead",
        "marketingqualifiedlead",
        "Subscriber",
        "Open Opportunity",
        "opportunity",
    ]
    rows = [sf_row(f"C{i}", f"c{i}.com", stage) for i, stage in enumerate(stages)]
    result = load_accounts(write_csv(tmp_path / "s.csv", SALESFORCE, rows))
    assert [a.populations[0] for a in result.accounts] == [
        "customer",
        "customer",
        "prospect",
        "prospect",
        "prospect",
        "opportunity",
        "opportunity",
    ]


def test_unmapped_stage_rejected_with_value_and_accepted_ones(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", SALESFORCE, [sf_row("A", "a.com", "Partner"), sf_row("B", "b.com", "")])
    result = load_accounts(path)
    assert result.accounts == []
    first, second = result.rejected
    assert first.row == 1 and first.reason.startswith(
        "unmapped stage 'Partner' in column 'Type'; accepted: Customer, Customer - Channel"
    )
    assert "Sales Qualified Lead" in first.reason and "--population-map" in first.reason
    assert second.row == 2 and second.reason.startswith("empty stage in column 'Type'")


def test_population_map_adds_and_overrides(tmp_path: Path) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Partner": "partner", "Prospect": "pipeline"}))
    rows = [sf_row("A", "a.com", "Partner"), sf_row("B", "b.com", "prospect"), sf_row("C", "c.com", "Customer")]
    result = load_accounts(write_csv(tmp_path / "s.csv", SALESFORCE, rows), population_map=mapping)
    assert [a.populations for a in result.accounts] == [("partner",), ("pipeline",), ("customer",)]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "population map is not valid JSON (line 1"),
        ('["a"]', "population map must be a JSON object"),
        ('{"Partner": 3}', "population map must be a JSON object"),
        ('{"Partner": "Big Partners"}', "population names must be lower-case words"),
    ],
)
def test_bad_population_map(tmp_path: Path, content: str, needle: str) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text(content)
    path = write_csv(tmp_path / "s.csv", SALESFORCE, [sf_row("A", "a.com")])
    with pytest.raises(InputError) as caught:
        load_accounts(path, population_map=mapping)
    assert needle in str(caught.value)


def test_missing_population_map(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", SALESFORCE, [sf_row("A", "a.com")])
    with pytest.raises(InputError, match=r"map\.json: population map file does not exist"):
        load_accounts(path, population_map=tmp_path / "map.json")


def test_no_population_column_needs_a_default(tmp_path: Path) -> None:
    """Without a stage column the file is refused (it used to map every account as a customer, unsaid)."""
    path = write_csv(tmp_path / "d.csv", ["Domain"], [["acme.com"], ["beta.com"]])
    with pytest.raises(InputError) as caught:
        load_accounts(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: no stage/population column")
    assert "columns found: Domain" in message and "--population-column" in message and "--default-population" in message
    assert [a.populations for a in load_accounts(path, default_population="partner").accounts] == [("partner",), ("partner",)]
    with pytest.raises(InputError, match="default population 'Not Valid'"):
        load_accounts(path, default_population="Not Valid")


# --- deduplication and rejection ------------------------------------------------------


def test_duplicates_merge_rows_and_populations(tmp_path: Path) -> None:
    rows = [
        sf_row("Acme", "https://www.acme.com", "Prospect"),
        sf_row("Beta", "beta.com", "Customer"),
        sf_row("Acme Corp", "sales@ACME.com", "Customer"),
        sf_row("Acme EU", "eu.acme.com/de", "Opportunity"),
    ]
    result = load_accounts(write_csv(tmp_path / "d.csv", SALESFORCE, rows))
    assert [a.rows for a in result.accounts] == [(1, 3, 4), (2,)]
    assert result.accounts[0].populations == ("customer", "opportunity", "prospect")
    assert result.accounts[0].keys == (MatchKey("domain", "acme.com"),)
    assert result.accounts[0].fields["Account Name"] == "Acme"  # the first row's cells
    assert result.totals() == {
        "rows": 4,
        "accounts": 2,
        "rejected": 0,
        "duplicates_merged": 2,
        "by_population": {"customer": 2, "opportunity": 1, "prospect": 1},
    }


def test_name_key_bridges_rows_transitively(tmp_path: Path) -> None:
    rows = [
        sf_row("Acme Inc", "acme.com", "Customer", "USA"),
        sf_row("ACME, LLC", "", "Prospect", "United States"),  # shares the name key with row 1
        sf_row("Acme", "acme-store.com", "Opportunity", "US"),  # shares the name key too: joins acme.com and acme-store.com
        sf_row("Acme", "acme.de", "Customer", "Germany"),  # another country: another account
    ]
    path = write_csv(tmp_path / "n.csv", SALESFORCE, rows)
    without = load_accounts(path)
    assert [a.rows for a in without.accounts] == [(1,), (3,), (4,)]
    assert [r.row for r in without.rejected] == [2]
    result = load_accounts(path, name_key=True)
    assert [a.rows for a in result.accounts] == [(1, 2, 3), (4,)]
    assert [str(k) for k in result.accounts[0].keys] == ["domain:acme-store.com", "domain:acme.com", "name:acme|us"]
    assert result.accounts[0].domain == "acme.com"
    assert [str(k) for k in result.accounts[1].keys] == ["domain:acme.de", "name:acme|de"]


def test_every_rejection_reason_names_column_and_value(tmp_path: Path) -> None:
    websites = [
        "",
        "n/a",
        "bob@gmail.com",
        "x@mailinator.com",
        "http://acme .com",
        "10.0.0.1",
        "co.uk",
        "localhost",
        "intranet.local",
        "ok.com",
    ]
    rows = [sf_row(f"N{i}", w) for i, w in enumerate(websites)]
    result = load_accounts(write_csv(tmp_path / "r.csv", SALESFORCE, rows))
    assert domains(result) == [["domain:ok.com"]]
    assert [(r.row, r.reason) for r in result.rejected] == [
        (1, "empty key: no website, domain or e-mail"),
        (2, "empty key: no website, domain or e-mail (column 'Website': 'n/a')"),
        (3, "free-mail only (column 'Website': 'bob@gmail.com')"),
        (4, "disposable e-mail domain only (column 'Website': 'x@mailinator.com')"),
        (5, "unparseable URL or domain (column 'Website': 'http://acme .com')"),
        (6, "IP address instead of a domain (column 'Website': '10.0.0.1')"),
        (7, "a bare public suffix, not a company domain (column 'Website': 'co.uk')"),
        (8, "local host name, not a company domain (column 'Website': 'localhost')"),
        (9, "no public suffix (not a registrable domain) (column 'Website': 'intranet.local')"),
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_same_accounts_from_every_format(tmp_path: Path, fmt: str) -> None:
    rows = [sf_row("Acme", "WWW.ACME.CO.UK"), sf_row("Acme UK", "shop.acme.co.uk", "Prospect"), sf_row("Jane", "jane@gmail.com")]
    writer = {"csv": write_csv, "parquet": write_parquet, "xlsx": write_xlsx}[fmt]
    result = load_accounts(writer(tmp_path / f"a.{fmt}", SALESFORCE, rows))
    assert [(a.rows, a.populations) for a in result.accounts] == [((1, 2), ("customer", "prospect"))]
    assert domains(result) == [["domain:acme.co.uk"]]
    assert [r.row for r in result.rejected] == [3]
    assert isinstance(result.accounts[0], Account)
