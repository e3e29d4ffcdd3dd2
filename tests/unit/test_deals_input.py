"""The vendor's deals file: header families, overrides, value mappings, hard errors, rejected rows, grouping."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleanroom.errors import InputError
from cleanroom_client.inputs.accounts import MatchKey, load_accounts
from cleanroom_client.inputs.amounts import AmountError, parse_amount
from cleanroom_client.inputs.cells import CellError
from cleanroom_client.inputs.deals import DealRow, load_deals
from cleanroom_client.inputs.grouping import group_keys, group_rows
from cleanroom_client.inputs.headers import MissingColumn

from tabular import write_csv, write_xlsx

SF = [
    "Opportunity ID",
    "Opportunity Name",
    "Account Name",
    "Website",
    "Amount",
    "Opportunity Currency",
    "Stage",
    "Created Date",
    "Close Date",
    "Type",
    "Opportunity Owner",
]
HS = [
    "Record ID",
    "Deal Name",
    "Associated Company",
    "Company Domain Name",
    "Amount",
    "Deal currency code",
    "Deal Stage",
    "Create Date",
    "Close Date",
    "Deal Type",
    "Deal owner",
]


def sf(
    i: str = "006A",
    website: str = "acme.com",
    amount: str = "12,500.00",
    stage: str = "Closed Won",
    created: str = "1/15/2025",
    close: str = "3/4/2025",
    type_: str = "New Business",
    currency: str = "USD",
    name: str = "Acme Inc",
) -> list[str]:
    return [i, f"{name} - deal", name, website, amount, currency, stage, created, close, type_, "Dana"]


def one(tmp_path: Path, row: list[str], header: list[str] = SF, **kwargs) -> DealRow:
    result = load_deals(write_csv(tmp_path / "deals.csv", header, [row]), **kwargs)
    assert len(result.deals) == 1, result.rejected
    return result.deals[0]


# --- header families and formats ---------------------------------------------------------


def test_salesforce_opportunity_report(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "sf.csv",
        SF,
        [
            sf(
                "0065g00000AbCdE",
                "https://www.Acme.com/about",
                "12,500.00",
                "Closed Won",
                "1/15/2025",
                "3/4/2025",
                "New Business",
            ),
            sf(
                "0065g00000AbCdF",
                "WWW.BETA.CO.UK",
                "$7,000",
                "Negotiation/Review",
                "2/1/2025",
                "6/30/2025",
                "Existing Business - Upgrade",
                name="Beta Ltd",
            ),
            sf("0065g00000abcde", "sales@acme.com", "900", "Closed Lost", "1/2/2025", "1/31/2025", "Renewal"),
        ],
    )
    result = load_deals(path)
    assert result.rejected == [] and result.keyless == [] and result.rows_read == 3
    a, b, c = result.deals
    assert a == DealRow(
        1,
        "0065g00000AbCdE",
        "Acme Inc",
        (MatchKey("domain", "acme.com"),),
        Decimal("12500.00"),
        "USD",
        "won",
        "Closed Won",
        date(2025, 1, 15),
        date(2025, 3, 4),
        "new",
        "Acme Inc - deal",
    )
    assert (b.keys, b.amount, b.outcome, b.stage, b.deal_type) == (
        (MatchKey("domain", "beta.co.uk"),),
        Decimal("7000"),
        "open",
        "Negotiation/Review",
        "expansion",
    )
    assert (c.deal_id, c.keys, c.outcome, c.deal_type, c.closed) == (
        "0065g00000abcde",
        a.keys,
        "lost",
        "renewal",
        date(2025, 1, 31),
    )
    assert result.columns.describe() == {
        "keys": ["Website"],
        "account_name": "Account Name",
        "deal_id": "Opportunity ID",
        "deal_name": "Opportunity Name",
        "amount": "Amount",
        "currency": "Opportunity Currency",
        "stage": "Stage",
        "created": "Created Date",
        "close": "Close Date",
        "type": "Type",
        "country": None,
    }
    assert result.totals() == {
        "rows": 3,
        "deals": 3,
        "rejected": 0,
        "empty_amounts": 0,
        "by_outcome": {"lost": 1, "open": 1, "won": 1},
        "by_type": {"expansion": 1, "new": 1, "renewal": 1},
        "currencies": {"USD": 3},
    }


def test_hubspot_deal_export_xlsx(tmp_path: Path) -> None:
    rows = [
        [
            9001,
            "Acme renewal",
            "Acme",
            "acme.io",
            12500.5,
            "EUR",
            "closedwon",
            datetime(2025, 1, 2, 10, 30),
            datetime(2025, 2, 3, 9, 0),
            "renewal",
            "Dana",
        ],
        [
            9002,
            "Beta new",
            "Beta",
            "https://beta.de",
            3000,
            None,
            "appointmentscheduled",
            datetime(2025, 3, 1),
            None,
            "newbusiness",
            "Dana",
        ],
        [
            9003,
            "Gamma up",
            "Gamma",
            "gamma.com.au",
            "4000",
            "USD",
            "Closed Lost",
            "2025-03-04 10:00",
            "2025-04-01 16:45",
            "existingbusiness",
            None,
        ],
        [
            9004,
            "Delta",
            "Delta",
            "delta.fr",
            10,
            "usd",
            "decisionmakerboughtin",
            "2025-05-01T08:00:00Z",
            "2025-07-01",
            None,
            None,
        ],
    ]
    result = load_deals(write_xlsx(tmp_path / "hs.xlsx", HS, rows))
    d = {r.deal_id: r for r in result.deals}
    assert list(d) == ["9001", "9002", "9003", "9004"]
    assert (d["9001"].amount, d["9001"].currency, d["9001"].outcome, d["9001"].deal_type) == (
        Decimal("12500.5"),
        "EUR",
        "won",
        "renewal",
    )
    assert (d["9001"].created, d["9001"].closed) == (date(2025, 1, 2), date(2025, 2, 3))
    assert (d["9002"].currency, d["9002"].outcome, d["9002"].closed, d["9002"].deal_type) == ("USD", "open", None, "new")
    assert (d["9003"].outcome, d["9003"].deal_type, d["9003"].created, d["9003"].closed) == (
        "lost",
        "expansion",
        date(2025, 3, 4),
        date(2025, 4, 1),
    )
    assert (d["9004"].currency, d["9004"].deal_type, d["9004"].created) == ("USD", "new", date(2025, 5, 1))  # empty type -> new
    assert d["9002"].keys == (MatchKey("domain", "beta.de"),)
    assert result.columns.account_name == "Associated Company" and result.columns.keys == ("Company Domain Name",)


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "Deal ID": pa.array([1, 2], pa.int64()),
            "Company name": ["Acme", "Beta"],
            "Domain": ["acme.com", "beta.com"],
            "Amount": pa.array([Decimal("1200.50"), Decimal("99.00")], pa.decimal128(12, 2)),
            "Currency": ["GBP", "GBP"],
            "Stage": ["Closed Won", "Qualification"],
            "Created": pa.array([date(2024, 12, 1), date(2025, 1, 1)], pa.date32()),
            "Close Date": pa.array([datetime(2025, 1, 5, 12), datetime(2025, 6, 1)], pa.timestamp("s")),
            "Type": ["Expansion", "New"],
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    result = load_deals(tmp_path / "d.parquet")
    a, b = result.deals
    assert (a.deal_id, a.amount, a.currency, a.created, a.closed, a.deal_type) == (
        "1",
        Decimal("1200.50"),
        "GBP",
        date(2024, 12, 1),
        date(2025, 1, 5),
        "expansion",
    )
    assert (b.deal_id, b.amount, b.outcome) == ("2", Decimal("99.00"), "open")


@pytest.mark.parametrize(
    ("key_header", "currency_header", "id_header"),
    [
        ("Account Website", "Amount Currency", "Opportunity ID"),
        ("Account: Website", "Currency", "Deal ID"),
        ("Domain", "Opportunity Currency", "Record ID"),
        ("account_website", "currency", "opportunity id"),
    ],
)
def test_header_variants(tmp_path: Path, key_header: str, currency_header: str, id_header: str) -> None:
    header = [id_header, "Account Name", key_header, "Amount", currency_header, "Stage", "Created Date", "Close Date", "Type"]
    d = one(tmp_path, ["X1", "Acme", "www.acme.com", "5", "EUR", "Won", "2025-01-01", "2025-01-02", "Renewal"], header)
    assert (d.deal_id, d.keys, d.currency, d.outcome, d.deal_type) == (
        "X1",
        (MatchKey("domain", "acme.com"),),
        "EUR",
        "won",
        "renewal",
    )


def test_curated_domain_beats_website_and_falls_back(tmp_path: Path) -> None:
    header = ["Deal ID", "Company Domain Name", "Website", "Amount", "Stage", "Create Date", "Close Date"]
    rows = [
        ["1", "acme.com", "other.com", "1", "won", "2025-01-01", "2025-01-02"],
        ["2", "", "https://www.beta.io/x", "1", "won", "2025-01-01", "2025-01-02"],
        ["3", "jane@gmail.com", "gamma.org", "1", "won", "2025-01-01", "2025-01-02"],
    ]
    result = load_deals(write_csv(tmp_path / "d.csv", header, rows))
    assert [d.keys[0].value for d in result.deals] == ["acme.com", "beta.io", "gamma.org"]
    assert result.columns.currency is None and all(d.currency == "USD" for d in result.deals)


def test_explicit_columns_win(tmp_path: Path) -> None:
    header = ["Ref", "Client", "Site", "Website", "Value", "Cur", "Phase", "Opened", "Closed", "Kind", "Land"]
    row = [
        "R-1",
        "Acme GmbH",
        "acme.de",
        "wrong.com",
        "1.200,50",
        "EUR",
        "Closed Won",
        "04.03.2025",
        "05.03.2025",
        "Upsell",
        "Germany",
    ]
    d = one(
        tmp_path,
        row,
        header,
        id_column="Ref",
        name_column="Client",
        key_column="Site",
        amount_column="Value",
        currency_column="Cur",
        stage_column="Phase",
        created_column="Opened",
        close_column="Closed",
        type_column="Kind",
        country_column="Land",
        name_key=True,
    )
    assert d == DealRow(
        1,
        "R-1",
        "Acme GmbH",
        (MatchKey("domain", "acme.de"), MatchKey("name", "acme|de")),
        Decimal("1200.50"),
        "EUR",
        "won",
        "Closed Won",
        date(2025, 3, 4),
        date(2025, 3, 5),
        "expansion",
    )


def test_unknown_override_column_names_the_columns_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", SF, [sf()])
    with pytest.raises(MissingColumn) as exc:
        load_deals(path, amount_column="Revenue")
    assert str(exc.value) == f"{path}: no column 'Revenue' for the amount; columns found: {', '.join(SF)}"


@pytest.mark.parametrize(
    ("drop", "needle"),
    [
        ("Opportunity ID", "no deal id column (looked for 'Opportunity ID', 'Opportunity ID 18', 'Deal ID', 'Record ID', 'ID')"),
        ("Amount", "no amount column"),
        ("Stage", "no stage column"),
        ("Created Date", "no created date column"),
        ("Close Date", "no close date column"),
        ("Website", "no website/domain column for the account"),
    ],
)
def test_missing_required_column(tmp_path: Path, drop: str, needle: str) -> None:
    keep = [i for i, h in enumerate(SF) if h != drop]
    header = [SF[i] for i in keep]
    path = write_csv(tmp_path / "d.csv", header, [[sf()[i] for i in keep]])
    with pytest.raises(MissingColumn) as exc:
        load_deals(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: {needle}")
    assert f"columns found: {', '.join(header)}" in message


def test_no_key_column_is_fine_with_the_name_key(tmp_path: Path) -> None:
    header = ["Opportunity ID", "Account Name", "Billing Country", "Amount", "Stage", "Created Date", "Close Date"]
    result = load_deals(
        write_csv(tmp_path / "d.csv", header, [["1", "ACME, Inc.", "USA", "1", "Won", "1/1/2025", "1/2/2025"]]), name_key=True
    )
    assert result.deals[0].keys == (MatchKey("name", "acme|us"),)


# --- value mappings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "outcome"),
    [
        ("Closed Won", "won"),
        ("closedwon", "won"),
        ("CLOSED WON", "won"),
        ("closed won", "won"),
        ("Won", "won"),
        ("Closed Lost", "lost"),
        ("closedlost", "lost"),
        ("Lost", "lost"),
        ("Prospecting", "open"),
        ("Qualification", "open"),
        ("Needs Analysis", "open"),
        ("Value Proposition", "open"),
        ("Id. Decision Makers", "open"),
        ("Perception Analysis", "open"),
        ("Proposal/Price Quote", "open"),
        ("Negotiation/Review", "open"),
        ("appointmentscheduled", "open"),
        ("qualifiedtobuy", "open"),
        ("presentationscheduled", "open"),
        ("decisionmakerboughtin", "open"),
        ("Decision Maker Bought-In", "open"),
        ("contractsent", "open"),
        ("Contract Sent", "open"),
    ],
)
def test_stage_mapping(tmp_path: Path, stage: str, outcome: str) -> None:
    d = one(tmp_path, sf(stage=stage))
    assert (d.outcome, d.stage) == (outcome, stage)


@pytest.mark.parametrize(
    ("value", "deal_type"),
    [
        ("New Business", "new"),
        ("newbusiness", "new"),
        ("New Customer", "new"),
        ("", "new"),
        ("Existing Business - Upgrade", "expansion"),
        ("Existing Customer - Upgrade", "expansion"),
        ("Expansion", "expansion"),
        ("existingbusiness", "expansion"),
        ("Existing Business", "expansion"),
        ("Upsell", "expansion"),
        ("Existing Customer - Downgrade", "expansion"),
        ("Renewal", "renewal"),
        ("renewal", "renewal"),
        ("Existing Business - Renewal", "renewal"),
    ],
)
def test_type_mapping(tmp_path: Path, value: str, deal_type: str) -> None:
    assert one(tmp_path, sf(type_=value)).deal_type == deal_type


def test_stage_and_type_maps_add_values(tmp_path: Path) -> None:
    rows = [sf("1", stage="Closed - Disqualified", type_="Pilot"), sf("2", stage="Verbal Commit", type_="Pilot")]
    path = write_csv(tmp_path / "d.csv", SF, rows)
    stage_file = tmp_path / "stages.json"
    stage_file.write_text(json.dumps({"Closed - Disqualified": "lost", "Verbal Commit": "open"}))
    for stage_map in (stage_file, str(stage_file), {"closed disqualified": "lost", "verbalcommit": "open"}):
        result = load_deals(path, stage_map=stage_map, type_map={"Pilot": "new"})
        assert [(d.outcome, d.deal_type) for d in result.deals] == [("lost", "new"), ("open", "new")]


def test_bad_maps(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", SF, [sf()])
    with pytest.raises(InputError, match=r"'Verbal' maps to 'maybe'; use one of won, lost, open"):
        load_deals(path, stage_map={"Verbal": "maybe"})
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="a stage map must be a JSON object"):
        load_deals(path, stage_map=bad)
    with pytest.raises(InputError, match="stage map file does not exist"):
        load_deals(path, stage_map=tmp_path / "nope.json")
    with pytest.raises(InputError, match="use one of new, expansion, renewal"):
        load_deals(path, type_map={"Pilot": "trial"})
    with pytest.raises(InputError, match="default currency 'dollars'"):
        load_deals(path, default_currency="dollars")


@pytest.mark.parametrize(
    ("text", "value", "code", "symbol"),
    [
        ("12500", "12500", None, None),
        ("12,500.00", "12500.00", None, None),
        ("$12,500", "12500", None, "$"),
        ("EUR 1.200,50", "1200.50", "EUR", None),
        ("1.200,50 EUR", "1200.50", "EUR", None),
        ("USD 12,500.00", "12500.00", "USD", None),
        ("12500 usd", "12500", "USD", None),
        ("\u20ac1.234.567,89", "1234567.89", None, "\u20ac"),
        ("1,234,567", "1234567", None, None),
        ("1 200,50", "1200.50", None, None),
        ("1'200.50", "1200.50", None, None),
        ("1200,5", "1200.5", None, None),
        ("99.95", "99.95", None, None),
        ("1,200", "1200", None, None),
        ("1.200", "1200", None, None),
        ("0.125", "0.125", None, None),
        ("1.25E+06", "1250000", None, None),
        ("0", "0", None, None),
        ("\u00a3 3,000", "3000", None, "\u00a3"),
    ],
)
def test_amount_formats(text: str, value: str, code: str | None, symbol: str | None) -> None:
    amount = parse_amount(text)
    assert (amount.value, amount.code, amount.symbol) == (Decimal(value), code, symbol)
    assert str(amount.value) == value  # exact: Decimal, never float


@pytest.mark.parametrize("text", ["12,50,0", "abc", "12.500.00", "$", "12500.", "1,2,3", "12 50", "1e", "12.5.3,1"])
def test_unparseable_amounts(text: str) -> None:
    with pytest.raises(AmountError) as exc:
        parse_amount(text)
    assert exc.value.problem == "unparseable amount"


@pytest.mark.parametrize("text", ["-100", "(100)", "-$100", "$-100", "USD -5", "\u2212100"])
def test_negative_amounts(text: str) -> None:
    with pytest.raises(AmountError) as exc:
        parse_amount(text)
    assert exc.value.problem == "negative amount"


def test_currency_from_column_amount_cell_and_default(tmp_path: Path) -> None:
    rows = [
        sf("1", amount="EUR 1.200,50", currency=""),
        sf("2", amount="\u00a3500", currency=""),
        sf("3", amount="$5", currency=""),
        sf("4", amount="500", currency=""),
        sf("5", amount="$5", currency="CAD"),
        sf("6", amount="", currency=""),
    ]
    result = load_deals(write_csv(tmp_path / "d.csv", SF, rows), default_currency="chf")
    assert [(d.amount, d.currency) for d in result.deals] == [
        (Decimal("1200.50"), "EUR"),
        (Decimal("500"), "GBP"),
        (Decimal("5"), "USD"),
        (Decimal("500"), "CHF"),
        (Decimal("5"), "CAD"),
        (Decimal("0"), "CHF"),
    ]
    assert result.empty_amounts == 1 and result.totals()["empty_amounts"] == 1


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2025-03-04", date(2025, 3, 4)),
        ("2025-03-04 10:00", date(2025, 3, 4)),
        ("2025-03-04T23:30:00-08:00", date(2025, 3, 4)),
        ("3/4/2025", date(2025, 3, 4)),
        ("03/04/2025 10:00 AM", date(2025, 3, 4)),
        ("3/4/25", date(2025, 3, 4)),
        ("04.03.2025", date(2025, 3, 4)),
        ("Mar 4, 2025", date(2025, 3, 4)),
        ("4 Mar 2025", date(2025, 3, 4)),
        ("04-Mar-2025", date(2025, 3, 4)),
        ("2025/03/04", date(2025, 3, 4)),
    ],
)
def test_date_formats(tmp_path: Path, created: str, expected: date) -> None:
    d = one(tmp_path, sf(created=created, close="2025-12-31"))
    assert d.created == expected


def test_slashed_dates_are_month_first_unless_the_file_shows_day_first(tmp_path: Path) -> None:
    us = load_deals(write_csv(tmp_path / "us.csv", SF, [sf("1", created="3/4/2025", close="3/14/2025")]))
    assert (us.deals[0].created, us.day_first) == (date(2025, 3, 4), False)
    eu = load_deals(
        write_csv(
            tmp_path / "eu.csv",
            SF,
            [sf("1", created="3/4/2025", close="4/5/2025"), sf("2", created="1/2/2025", close="25/12/2025")],
        )
    )
    assert (eu.deals[0].created, eu.deals[0].closed, eu.day_first) == (date(2025, 4, 3), date(2025, 5, 4), True)
    forced = load_deals(write_csv(tmp_path / "f.csv", SF, [sf("1", created="3/4/2025", close="4/5/2025")]), day_first=True)
    assert forced.deals[0].created == date(2025, 4, 3)


def test_mixed_date_orders_are_an_error(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv", SF, [sf("1", created="3/14/2025", close="3/20/2025"), sf("2", created="1/2/2025", close="25/12/2025")]
    )
    with pytest.raises(CellError) as exc:
        load_deals(path)
    assert str(exc.value).startswith(
        f"{path}: row 2, column 'Close Date': day-first date '25/12/2025'; but row 1, column 'Created Date' "
        "has the month-first date '3/14/2025'"
    )


# --- hard errors: file, row, column, value -------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "column", "expected"),
    [
        (
            "amount",
            "12,50,0",
            "Amount",
            "unparseable amount '12,50,0'; expected a non-negative number such as 12500, 12,500.00, $12,500 or EUR 1.200,50",
        ),
        ("amount", "-500", "Amount", "negative amount '-500'; amounts must be zero or more"),
        (
            "amount",
            "\u20ac500",
            "Amount",
            "currency mismatch with column 'Opportunity Currency' ('USD') for amount '\u20ac500'; the amount is in EUR",
        ),
        (
            "amount",
            "EUR 500",
            "Amount",
            "currency mismatch with column 'Opportunity Currency' ('USD') for amount 'EUR 500'; the amount is in EUR",
        ),
        (
            "currency",
            "dollars",
            "Opportunity Currency",
            "unknown currency 'dollars'; expected a three-letter ISO code such as USD or EUR",
        ),
        (
            "created",
            "someday",
            "Created Date",
            "unparseable date 'someday'; expected a date such as 2025-03-04, 3/4/2025 or 2025-03-04 10:00 (slashed dates read as m/d/Y in this file)",
        ),
        ("created", "2/30/2025", "Created Date", "unparseable date '2/30/2025'"),
        ("created", "", "Created Date", "missing date (empty)"),
        ("close", "13/45/2025", "Close Date", "unparseable date '13/45/2025'"),
        ("close", "", "Close Date", "missing close date (empty); a won deal needs the date it closed"),
        (
            "close",
            "1/1/2025",
            "Close Date",
            "close date before the created date '1/1/2025'; 2025-01-01 is before 2025-01-15 (column 'Created Date': '1/15/2025')",
        ),
        (
            "stage",
            "Won-ish",
            "Stage",
            "unknown stage 'Won-ish'; accepted (open: Appointment Scheduled, Contract Sent, Decision Maker Bought-In, ",
        ),
        ("stage", "", "Stage", "missing stage (empty); accepted (open: "),
        (
            "type",
            "Pilot",
            "Type",
            "unknown deal type 'Pilot'; accepted (new: New, New Business, New Customer, New Logo; expansion: ",
        ),
        ("id", "", "Opportunity ID", "missing deal id (empty); every deal needs its CRM id"),
    ],
)
def test_hard_errors_name_file_row_column_value(tmp_path: Path, field: str, value: str, column: str, expected: str) -> None:
    kwargs = (
        {"amount": value}
        if field == "amount"
        else {"currency": value}
        if field == "currency"
        else {"created": value}
        if field == "created"
        else {"close": value}
        if field == "close"
        else {"stage": value}
        if field == "stage"
        else {"type_": value}
        if field == "type"
        else {"i": value}
    )
    good = sf("G1")
    path = write_csv(tmp_path / "deals.csv", SF, [good, sf("G2"), sf("B3", **kwargs) if field != "id" else sf(**kwargs)])
    with pytest.raises(CellError) as exc:
        load_deals(path)
    assert str(exc.value).startswith(f"{path}: row 3, column '{column}': {expected}")
    assert (exc.value.path, exc.value.row, exc.value.column) == (str(path), 3, column)
    assert isinstance(exc.value, InputError)


def test_unknown_stage_lists_every_accepted_stage(tmp_path: Path) -> None:
    with pytest.raises(CellError) as exc:
        load_deals(write_csv(tmp_path / "d.csv", SF, [sf(stage="Maybe")]))
    message = str(exc.value)
    for accepted in (
        "won: Closed Won, Won",
        "lost: Closed Lost, Lost",
        "Prospecting",
        "Negotiation/Review",
        "Qualified To Buy",
        "add others with a stage map",
    ):
        assert accepted in message


def test_duplicate_deal_ids(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", SF, [sf("006X"), sf("006Y"), sf("006x"), sf("006X ")])
    with pytest.raises(CellError) as exc:
        load_deals(path)
    assert str(exc.value) == (
        f"{path}: row 4, column 'Opportunity ID': duplicate deal id '006X'; also on row 1 "
        "(a report with one row per product line? export one row per opportunity)"
    )


def test_open_deals_may_have_no_close_date(tmp_path: Path) -> None:
    d = one(tmp_path, sf(stage="Prospecting", close=""))
    assert (d.outcome, d.closed) == ("open", None)


def test_nothing_partial_an_error_on_the_last_row_raises(tmp_path: Path) -> None:
    rows = [sf(f"D{i}") for i in range(50)] + [sf("D50", amount="lots")]
    with pytest.raises(CellError, match="row 51, column 'Amount'"):
        load_deals(write_csv(tmp_path / "d.csv", SF, rows))


# --- rejected rows -----------------------------------------------------------------------


def test_rows_without_a_key_are_rejected_and_kept_as_keyless(tmp_path: Path) -> None:
    rows = [
        sf("1", "acme.com"),
        sf("2", "jane@gmail.com"),
        sf("3", ""),
        sf("4", "n/a"),
        sf("5", "http://10.0.0.1/"),
        sf("6", "mailinator.com"),
    ]
    result = load_deals(write_csv(tmp_path / "d.csv", SF, rows))
    assert [d.deal_id for d in result.deals] == ["1"]
    assert [d.deal_id for d in result.keyless] == ["2", "3", "4", "5", "6"] and all(d.keys == () for d in result.keyless)
    assert [(r.row, r.reason) for r in result.rejected] == [
        (2, "free-mail only (column 'Website': 'jane@gmail.com')"),
        (3, "empty key: no website, domain or e-mail"),
        (4, "empty key: no website, domain or e-mail (column 'Website': 'n/a')"),
        (5, "IP address instead of a domain (column 'Website': 'http://10.0.0.1/')"),
        (6, "disposable e-mail domain only (column 'Website': 'mailinator.com')"),
    ]
    assert result.totals()["by_outcome"] == {"won": 6}  # keyless deals still count as deals


def test_keys_agree_with_accounts(tmp_path: Path) -> None:
    """A deal and an account row of one company get the same keys (same canonicalisation)."""
    websites = [
        "https://www.Acme.com/x",
        "M\u00dcNCHEN-labs.de",
        "xn--mnchen-labs-zob.de",
        "eu.app.beta.co.uk",
        "info@gamma.com.au",
        "www.delta.io.",
    ]
    deals = load_deals(write_csv(tmp_path / "d.csv", SF, [sf(str(i), w) for i, w in enumerate(websites)]))
    accounts = load_accounts(
        write_csv(tmp_path / "a.csv", ["Account Name", "Website"], [["X", w] for w in websites]), default_population="customer"
    )
    assert sorted({k for d in deals.deals for k in d.keys}) == sorted({k for a in accounts.accounts for k in a.keys})


# --- grouping ----------------------------------------------------------------------------


def test_grouping_deals_into_accounts(tmp_path: Path) -> None:
    header = [*SF, "Billing Country"]
    rows = [
        [*sf("1", "acme.com", name="Acme"), "US"],
        [*sf("2", "beta.io", name="Beta"), "DE"],
        [*sf("3", "www.acme.com", name="Acme"), "US"],
        [*sf("4", "", name="Beta GmbH"), "Germany"],
        [*sf("5", "gamma.fr", name="Gamma"), "FR"],
        [*sf("6", "acme.co.uk", name="Acme"), "US"],
    ]
    result = load_deals(write_csv(tmp_path / "d.csv", header, rows), name_key=True)
    grouping = group_rows(result.deals)
    account_keys, labels = grouping.as_text()  # a plain pair too
    # 1, 3 share the domain; 6 shares acme's name key (same country); 4 has only beta's name key
    assert labels == [0, 1, 0, 1, 2, 0]
    assert account_keys == [
        ["domain:acme.co.uk", "domain:acme.com", "name:acme|us"],
        ["domain:beta.io", "name:beta|de"],
        ["domain:gamma.fr", "name:gamma|fr"],
    ]
    without_names = group_rows(load_deals(write_csv(tmp_path / "d.csv", header, rows)).deals)
    assert without_names.label_of_row == [0, 1, 0, 2, 3]  # row 4 is rejected without the name key


def test_group_keys_is_transitive_and_deterministic() -> None:
    grouping = group_keys(
        [["domain:a.com"], ["domain:b.com"], ["domain:c.com"], ["domain:b.com", "domain:c.com"], ["domain:c.com", "domain:a.com"]]
    )
    assert grouping.label_of_row == [0, 0, 0, 0, 0]
    assert grouping.as_text()[0] == [["domain:a.com", "domain:b.com", "domain:c.com"]]
    assert group_keys([["x:1"], ["x:2"], ["x:1"]]).as_text() == ([["x:1"], ["x:2"]], [0, 1, 0])
    assert group_keys([]).as_text() == ([], [])
    with pytest.raises(ValueError, match="no match key"):
        group_keys([["x:1"], []])
