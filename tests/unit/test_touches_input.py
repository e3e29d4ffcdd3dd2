"""A partner's touchpoints file: header families, roles, dates, hard errors, rejected rows, grouping."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from cleanroom.errors import InputError
from cleanroom_client.inputs.accounts import MatchKey
from cleanroom_client.inputs.cells import CellError
from cleanroom_client.inputs.grouping import group_rows
from cleanroom_client.inputs.headers import MissingColumn
from cleanroom_client.inputs.touches import TouchRow, load_touches

from tabular import write_csv


def domain(value: str) -> tuple[MatchKey, ...]:
    return (MatchKey("domain", value),)


@pytest.mark.parametrize(
    ("header", "key_column", "role_column", "date_column"),
    [
        (["Account Name", "Website", "Partner Role", "Touch Date"], "Website", "Partner Role", "Touch Date"),
        (
            ["Company name", "Company Domain Name", "Touch Type", "Activity Date"],
            "Company Domain Name",
            "Touch Type",
            "Activity Date",
        ),
        (["Account Name", "Domain", "Role", "Date"], "Domain", "Role", "Date"),
        (["account_name", "DOMAIN", "partner-role", "touch_date"], "DOMAIN", "partner-role", "touch_date"),
    ],
)
def test_header_families(tmp_path: Path, header: list[str], key_column: str, role_column: str, date_column: str) -> None:
    rows = [["Acme", "https://www.acme.com/", "Referral", "2025-03-04"], ["Beta", "beta.co.uk", "co-sell", "3/14/2025"]]
    result = load_touches(write_csv(tmp_path / "t.csv", header, rows))
    assert result.touches == [
        TouchRow(1, domain("acme.com"), "sourcing", date(2025, 3, 4)),
        TouchRow(2, domain("beta.co.uk"), "co-sell", date(2025, 3, 14)),
    ]
    assert (result.columns.keys, result.columns.role, result.columns.date) == ((key_column,), role_column, date_column)
    assert result.totals() == {"rows": 2, "touches": 2, "rejected": 0, "by_role": {"co-sell": 1, "sourcing": 1}}


@pytest.mark.parametrize(
    ("written", "role"),
    [
        ("sourcing", "sourcing"),
        ("Sourcing", "sourcing"),
        ("referral", "sourcing"),
        ("REFERRED", "sourcing"),
        ("sourced", "sourcing"),
        ("source", "sourcing"),
        ("Partner Sourced", "sourcing"),
        ("co-sell", "co-sell"),
        ("Co-Sell", "co-sell"),
        ("cosell", "co-sell"),
        ("co sell", "co-sell"),
        ("co-selling", "co-sell"),
        ("Co_Sell", "co-sell"),
        ("technical", "technical"),
        ("tech", "technical"),
        ("Technical Validation", "technical"),
        ("integration", "technical"),
        ("influence", "influence"),
        ("Influenced", "influence"),
        ("influencer", "influence"),
    ],
)
def test_role_spellings(tmp_path: Path, written: str, role: str) -> None:
    result = load_touches(write_csv(tmp_path / "t.csv", ["Domain", "Role", "Date"], [["acme.com", written, "2025-01-01"]]))
    assert result.touches[0].role == role


def test_role_map_adds_values(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", ["Domain", "Role", "Date"], [["acme.com", "Marketplace listing", "2025-01-01"]])
    assert load_touches(path, role_map={"Marketplace listing": "influence"}).touches[0].role == "influence"
    mapping = tmp_path / "roles.json"
    mapping.write_text(json.dumps({"marketplace listing": "influence"}))
    assert load_touches(path, role_map=mapping).touches[0].role == "influence"
    with pytest.raises(InputError, match="use one of sourcing, co-sell, technical, influence"):
        load_touches(path, role_map={"Marketplace listing": "kudos"})


def test_xlsx_with_datetime_cells(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Company name", "Company Domain Name", "Touch Type", "Activity Date"])
    sheet.append(["Acme", "ACME.IO", "Technical", datetime(2025, 2, 3, 14, 5)])
    sheet.append(["Beta", None, "Influence", "2025-02-04 09:00"])  # no key: rejected
    sheet.append(["Gamma", "sales@gamma.de", "influenced", datetime(2024, 12, 31)])
    book.save(tmp_path / "t.xlsx")
    result = load_touches(tmp_path / "t.xlsx")
    assert result.touches == [
        TouchRow(1, domain("acme.io"), "technical", date(2025, 2, 3)),
        TouchRow(3, domain("gamma.de"), "influence", date(2024, 12, 31)),
    ]
    assert [(r.row, r.reason) for r in result.rejected] == [(2, "empty key: no website, domain or e-mail")]


def test_parquet_with_date_column(tmp_path: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "Website": ["acme.com", "http://beta.com.au/x"],
                "Role": ["Co-Sell", "Sourcing"],
                "Touch Date": pa.array([date(2025, 1, 2), date(2025, 1, 3)], pa.date32()),
            }
        ),
        tmp_path / "t.parquet",
    )
    result = load_touches(tmp_path / "t.parquet")
    assert [(t.keys, t.role, t.day) for t in result.touches] == [
        (domain("acme.com"), "co-sell", date(2025, 1, 2)),
        (domain("beta.com.au"), "sourcing", date(2025, 1, 3)),
    ]


def test_overrides_and_name_key(tmp_path: Path) -> None:
    header = ["Client", "Site", "URL", "Kind", "When", "Land", "Date"]
    rows = [
        ["Acme GmbH", "acme.de", "wrong.com", "Referral", "05.03.2025", "Deutschland", "2020-01-01"],
        ["Beta LLC", "", "", "tech", "06.03.2025", "USA", "2020-01-01"],
    ]
    path = write_csv(tmp_path / "t.csv", header, rows)
    result = load_touches(
        path,
        key_column="Site",
        name_column="Client",
        role_column="Kind",
        date_column="When",
        country_column="Land",
        name_key=True,
    )
    assert result.touches == [
        TouchRow(1, (MatchKey("domain", "acme.de"), MatchKey("name", "acme|de")), "sourcing", date(2025, 3, 5)),
        TouchRow(2, (MatchKey("name", "beta|us"),), "technical", date(2025, 3, 6)),
    ]
    with pytest.raises(MissingColumn) as exc:
        load_touches(path, role_column="Partner Role")
    assert str(exc.value) == f"{path}: no column 'Partner Role' for the role; columns found: {', '.join(header)}"


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        (["Domain", "Date"], "no role column (looked for 'Role', 'Partner Role', 'Touch Type'"),
        (["Domain", "Role"], "no touch date column (looked for 'Date', 'Touch Date', 'Activity Date'"),
        (["Account Name", "Role", "Date"], "no website/domain column for the account"),
    ],
)
def test_missing_required_columns(tmp_path: Path, header: list[str], needle: str) -> None:
    path = write_csv(tmp_path / "t.csv", header, [["x"] * len(header)])
    with pytest.raises(MissingColumn) as exc:
        load_touches(path)
    assert str(exc.value).startswith(f"{path}: {needle}")
    assert f"columns found: {', '.join(header)}" in str(exc.value)


@pytest.mark.parametrize(
    ("role", "day", "column", "expected"),
    [
        (
            "Kudos",
            "2025-01-01",
            "Partner Role",
            "unknown role 'Kudos'; accepted (sourcing: Partner Sourced, Referral, Referred, Source, Sourced, Sourcing; "
            "co-sell: Co-sell, Co-selling; technical: Integration, Tech, Technical, Technical Validation; "
            "influence: Influence, Influenced, Influencer; case, spaces and punctuation ignored); add others with a role map",
        ),
        ("", "2025-01-01", "Partner Role", "missing role (empty); accepted (sourcing: "),
        (
            "Referral",
            "yesterday",
            "Touch Date",
            "unparseable date 'yesterday'; expected a date such as 2025-03-04, 3/4/2025 or 2025-03-04 10:00",
        ),
        ("Referral", "2025-02-29", "Touch Date", "unparseable date '2025-02-29'"),
        ("Referral", "", "Touch Date", "missing date (empty)"),
    ],
)
def test_hard_errors(tmp_path: Path, role: str, day: str, column: str, expected: str) -> None:
    header = ["Account Name", "Website", "Partner Role", "Touch Date"]
    rows = [["A", "a.com", "Referral", "2025-01-01"], ["B", "gmail.com", "Referral", "2025-01-01"], ["C", "c.com", role, day]]
    path = write_csv(tmp_path / "touches.csv", header, rows)
    with pytest.raises(CellError) as exc:
        load_touches(path)
    assert str(exc.value).startswith(f"{path}: row 3, column '{column}': {expected}")
    assert (exc.value.row, exc.value.column, exc.value.value) == (3, column, (role if column == "Partner Role" else day) or None)


def test_an_unknown_role_on_a_keyless_row_is_still_an_error(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv", ["Domain", "Role", "Date"], [["a.com", "tech", "2025-01-01"], ["gmail.com", "??", "2025-01-01"]]
    )
    with pytest.raises(CellError, match="row 2, column 'Role': unknown role '\\?\\?'"):
        load_touches(path)


def test_rejected_rows_and_day_first_dates(tmp_path: Path) -> None:
    rows = [
        ["acme.com", "tech", "25/12/2024"],
        ["bob@hotmail.com", "tech", "1/2/2025"],
        ["n/a", "tech", "1/2/2025"],
        ["beta.io", "tech", "1/2/2025"],
    ]
    result = load_touches(write_csv(tmp_path / "t.csv", ["Website", "Role", "Date"], rows))
    assert result.day_first
    assert [(t.row, t.day) for t in result.touches] == [(1, date(2024, 12, 25)), (4, date(2025, 2, 1))]
    assert [(r.row, r.reason) for r in result.rejected] == [
        (2, "free-mail only (column 'Website': 'bob@hotmail.com')"),
        (3, "empty key: no website, domain or e-mail (column 'Website': 'n/a')"),
    ]


def test_grouping_touches(tmp_path: Path) -> None:
    rows = [
        ["acme.com", "tech", "2025-01-01"],
        ["www.acme.com", "referral", "2025-01-02"],
        ["beta.io", "tech", "2025-01-01"],
        ["https://ACME.com/x", "influence", "2025-01-03"],
    ]
    result = load_touches(write_csv(tmp_path / "t.csv", ["Website", "Role", "Date"], rows))
    assert group_rows(result.touches).as_text() == ([["domain:acme.com"], ["domain:beta.io"]], [0, 0, 1, 0])
