"""The synthetic attribution generator: determinism, shape, and a ground truth that the written files really encode.

The files are read back with the client's own loaders (load_deals, load_touches), which know nothing of the
generator's bookkeeping: every true touch must land on its deal's canonical domain, and every loaded touch on a
deal's domain must be one of that deal's true touches.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from cleanroom.demo.synth_deals import (
    HUBSPOT_DEAL_HEADERS,
    SALESFORCE_DEAL_HEADERS,
    TOUCH_STYLES,
    AttributionTruth,
    write_attribution_set,
)
from cleanroom_client.cli import main
from cleanroom_client.inputs.deals import load_deals
from cleanroom_client.inputs.touches import load_touches


def check_truth_against_files(truth: AttributionTruth) -> None:
    deals = load_deals(truth.paths["deals"])
    by_id = {d.deal_id: d for d in deals.deals + deals.keyless}
    assert len(by_id) == len(truth.deals) == deals.rows_read
    matchable_domains: set[str] = set()
    every_domain: set[str] = set()
    expected: dict[str, set[tuple[str, int]]] = {}
    for td in truth.deals:
        d = by_id[td.deal_id]
        assert (d.row, d.amount, d.currency, d.outcome, d.stage, d.created, d.closed, d.deal_type) == (
            td.row,
            td.amount,
            td.currency,
            td.outcome,
            td.stage,
            td.created,
            td.closed,
            td.deal_type,
        ), td.deal_id
        every_domain.add(td.domain)
        if td.matchable:
            assert [str(k) for k in d.keys] == [f"domain:{td.domain}"], td.deal_id
            matchable_domains.add(td.domain)
            pairs = {(t.partner, t.row) for t in td.touches}
            assert expected.setdefault(td.domain, pairs) == pairs  # deals of one company share their true touches
        else:
            assert d.keys == () and td.touches == ()
    assert len(deals.rejected) == sum(not td.matchable for td in truth.deals)
    found: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for partner in truth.partners:
        loaded = load_touches(truth.paths[partner])
        assert loaded.rows_read == truth.touch_rows[partner]
        assert len(loaded.rejected) == truth.rejected_touch_rows[partner]
        off_deal = 0
        role_day = {}
        for t in loaded.touches:
            (key,) = t.keys
            role_day[t.row] = (t.role, t.day)
            if key.value in matchable_domains:
                found[key.value].add((partner, t.row))
            elif key.value not in every_domain:
                off_deal += 1
        assert off_deal == truth.off_deal_touches[partner]
        for td in truth.deals:  # the truth's role and date are what the file says
            for x in td.touches:
                if x.partner == partner:
                    assert role_day[x.row] == (x.role, x.day)
    assert dict(found) == {k: v for k, v in expected.items() if v}


@pytest.mark.parametrize("style", ["salesforce", "hubspot"])
def test_ground_truth_agrees_with_the_loaded_files(tmp_path: Path, style: str) -> None:
    truth = write_attribution_set(tmp_path, deals=1500, touches=2000, seed=11, style=style)
    check_truth_against_files(truth)
    assert sum(truth.lookalike_touches.values()) > 0  # look-alike companies were touched, and matched nothing (above)


def test_four_partners_and_foreign_currency(tmp_path: Path) -> None:
    truth = write_attribution_set(
        tmp_path, deals=400, partners=("alpha", "beta", "gamma", "delta"), touches=300, seed=2, foreign_share=0.2
    )
    check_truth_against_files(truth)
    currencies = Counter(d.currency for d in truth.deals)
    assert set(currencies) == {"USD", "EUR"} and currencies["USD"] > currencies["EUR"] > 0


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_other_formats_hold_the_same_rows(tmp_path: Path, fmt: str) -> None:
    csv_truth = write_attribution_set(tmp_path / "csv", deals=120, touches=80, seed=4)
    other = write_attribution_set(tmp_path / fmt, deals=120, touches=80, seed=4, fmt=fmt)
    assert other.paths["deals"].endswith(f".{fmt}")
    assert other.deals == csv_truth.deals
    check_truth_against_files(other)


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    a = write_attribution_set(tmp_path / "a", deals=300, touches=200, seed=9)
    b = write_attribution_set(tmp_path / "b", deals=300, touches=200, seed=9)
    c = write_attribution_set(tmp_path / "c", deals=300, touches=200, seed=10)
    assert a.deals == b.deals and a.deals != c.deals
    for key in ("deals", "partner-a", "partner-b", "partner-c"):
        assert Path(a.paths[key]).read_bytes() == Path(b.paths[key]).read_bytes()
        assert Path(a.paths[key]).read_bytes() != Path(c.paths[key]).read_bytes()


def test_shape_of_the_data(tmp_path: Path) -> None:
    truth = write_attribution_set(tmp_path, deals=2000, touches=3000, seed=7)
    deals = truth.deals
    assert len(deals) == 2000
    assert Counter(d.outcome for d in deals).keys() == {"won", "lost", "open"}
    assert Counter(d.deal_type for d in deals).keys() == {"new", "expansion", "renewal"}
    assert all(d.closed is not None and d.created <= d.closed for d in deals)  # Salesforce style: every deal has a close date
    assert all(d.closed <= truth.as_of for d in deals if d.outcome != "open")
    per_company = Counter(d.company for d in deals)
    assert max(per_company.values()) >= 2 and min(per_company.values()) == 1  # several deals on some accounts
    assert 0 < sum(not d.matchable for d in deals) < 100
    assert any(d.matchable and not d.touches for d in deals)  # deals no partner touched
    where = Counter()
    for d in deals:
        ref = truth.as_of if d.outcome == "open" else d.closed
        for t in d.touches:
            assert t.day <= truth.as_of
            where["after close" if t.day > ref else "in lookback" if t.day >= ref - timedelta(days=365) else "older"] += 1
    assert where.keys() == {"after close", "in lookback", "older"}
    assert where["in lookback"] > where["older"] and where["in lookback"] > where["after close"]
    assert all(truth.off_deal_touches[p] > 0 for p in truth.partners)  # touches on companies the vendor has no deal with
    partners_per_deal = Counter(len({t.partner for t in d.touches}) for d in deals if d.matchable)
    assert {0, 1, 2, 3} <= partners_per_deal.keys()
    assert {t.role for d in deals for t in d.touches} == {"sourcing", "co-sell", "technical", "influence"}
    for d in deals:
        assert list(d.touches) == sorted(d.touches, key=lambda t: (t.day, t.partner, t.row))


def test_headers_as_the_crms_write_them(tmp_path: Path) -> None:
    sf = write_attribution_set(tmp_path / "sf", deals=20, touches=10, seed=1)
    hs = write_attribution_set(tmp_path / "hs", deals=20, touches=10, seed=1, style="hubspot")
    assert Path(sf.paths["deals"]).name == "vendor_salesforce_opportunities.csv"
    assert Path(hs.paths["deals"]).name == "vendor_hubspot_deals.csv"
    assert Path(sf.paths["deals"]).read_text(encoding="utf-8").splitlines()[0] == ",".join(SALESFORCE_DEAL_HEADERS)
    assert Path(hs.paths["deals"]).read_text(encoding="utf-8").splitlines()[0] == ",".join(HUBSPOT_DEAL_HEADERS)
    for i, partner in enumerate(sf.partners):
        assert Path(sf.paths[partner]).read_text(encoding="utf-8").splitlines()[0] == ",".join(TOUCH_STYLES[i].headers)


def test_ground_truth_json_round_trip(tmp_path: Path) -> None:
    truth = write_attribution_set(tmp_path, deals=200, touches=150, seed=3)
    doc = json.loads(Path(truth.paths["ground_truth"]).read_text(encoding="utf-8"))
    assert doc == json.loads(json.dumps(truth.to_json()))
    deal = next(d for d in doc["deals"] if d["touches"])
    assert set(deal) == {
        "deal_id",
        "row",
        "company",
        "domain",
        "amount",
        "currency",
        "outcome",
        "stage",
        "type",
        "created",
        "closed",
        "matchable",
        "touches",
    }
    assert set(deal["touches"][0]) == {"partner", "role", "date", "row"}
    assert isinstance(deal["amount"], str)  # money as a decimal string
    loaded = AttributionTruth.load(truth.paths["ground_truth"])
    assert loaded.deals == truth.deals and loaded.partners == truth.partners and loaded.as_of == truth.as_of
    assert doc["true_touches"] == truth.true_touch_rows()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deals": 0}, "deals must be a positive integer"),
        ({"touches": 0}, "touches must be a positive integer"),
        ({"partners": ()}, "at least one partner"),
        ({"partners": ("a", "a")}, "distinct"),
        ({"partners": ("Partner A",)}, "lower-case"),
        ({"style": "pipedrive"}, "unknown style"),
        ({"fmt": "json"}, "unknown format"),
        ({"foreign_share": 2.0}, "foreign_share"),
    ],
)
def test_bad_parameters(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_attribution_set(tmp_path, **{"deals": 10, "touches": 10, **kwargs})


# --- CLI ---------------------------------------------------------------------------------


def test_cli_writes_an_attribution_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    assert (
        main(
            [
                "synth",
                "--out",
                str(out),
                "--attribution",
                "--deals",
                "60",
                "--partners",
                "2",
                "--touches",
                "40",
                "--style",
                "hubspot",
                "--seed",
                "5",
                "--json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["partners"] == ["partner-a", "partner-b"] and doc["deal_rows"] == 60 and doc["style"] == "hubspot"
    assert set(doc["paths"]) == {"deals", "partner-a", "partner-b", "ground_truth"}
    assert all(Path(p).is_file() for p in doc["paths"].values())
    assert (
        AttributionTruth.load(doc["paths"]["ground_truth"]).deals
        == write_attribution_set(
            tmp_path / "again", deals=60, partners=("partner-a", "partner-b"), touches=40, seed=5, style="hubspot"
        ).deals
    )
    assert main(["synth", "--out", str(out), "--attribution", "--deals", "10", "--touches", "5"]) == 0
    text = capsys.readouterr().out
    assert "partner-c" in text and "ground_truth" in text


def test_cli_plain_synth_still_writes_the_account_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["synth", "--out", str(tmp_path), "--vendor-accounts", "30", "--partner-accounts", "20", "--overlap", "5", "--json"])
        == 0
    )
    paths = json.loads(capsys.readouterr().out)
    assert set(paths) == {"vendor", "partner", "ground_truth"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--deals", "0"], "deals must be a positive integer"), (["--partners", "0"], "--partners must be at least 1")],
)
def test_cli_bad_sizes_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    assert main(["synth", "--out", str(tmp_path), "--attribution", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
