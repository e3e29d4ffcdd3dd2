"""Ecosystem metrics, per-partner summaries and the partner release policy.

A small portfolio is written out by hand with its DealCredits (not produced by
the engine); every expected number is worked out in the comments.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from cleanroom.attribution.config import AttributionConfig
from cleanroom.attribution.engine import DealCredit, credit_deals
from cleanroom.attribution.metrics import ecosystem_metrics
from cleanroom.attribution.records import Deal, Touch
from cleanroom.attribution.summary import PartnerSummary, partner_release, summarize_partners
from cleanroom.errors import InvalidArgument

D = Decimal


def deal(ref, account, outcome, amount, created, closed=None, currency="USD"):
    return Deal(ref, account, D(amount), currency, outcome, created, closed)


def dc(ref, credits, sourcers=(), influencers=None):
    credits = {p: D(a) for p, a in credits.items()}
    infl = frozenset(influencers) if influencers is not None else frozenset(credits) | frozenset(sourcers)
    return DealCredit(ref, credits, D("0.00"), infl, frozenset(sourcers))


# ref acct outcome amount  created     closed      cycle  partners (credit)       sourcers
#  1   10  won    1000    2024-01-01  2024-01-31   30     A 600, B 400            A
#  2   10  won     500    2024-02-01  2024-03-02   30*    C 500                   -
#  3   20  won    2000    2024-01-01  2024-04-10  100**   A 2000                  A
#  4   30  won     300    2024-03-01  2024-03-21   20     -                       -
#  5   40  lost    700    2024-01-01  2024-02-10   40     B 700                   B
#  6   50  lost    400    2024-02-01  2024-02-11   10     -                       -
#  7   60  lost    100    2024-01-01  2024-01-21   20     -                       -
#  8   70  open   1000    2024-05-01  -             -     A 1000                  -
#  9   80  open    600    2024-05-01  -             -     -                       -
# * Feb 2024 has 29 days: Feb 1 -> Mar 2 is 29 + 1 = 30.  ** 31 (Jan) + 29 (Feb) + 31 (Mar) + 9 = 100.
DEALS = [
    deal(1, 10, "won", "1000.00", date(2024, 1, 1), date(2024, 1, 31)),
    deal(2, 10, "won", "500.00", date(2024, 2, 1), date(2024, 3, 2)),
    deal(3, 20, "won", "2000.00", date(2024, 1, 1), date(2024, 4, 10)),
    deal(4, 30, "won", "300.00", date(2024, 3, 1), date(2024, 3, 21)),
    deal(5, 40, "lost", "700.00", date(2024, 1, 1), date(2024, 2, 10)),
    deal(6, 50, "lost", "400.00", date(2024, 2, 1), date(2024, 2, 11)),
    deal(7, 60, "lost", "100.00", date(2024, 1, 1), date(2024, 1, 21)),
    deal(8, 70, "open", "1000.00", date(2024, 5, 1)),
    deal(9, 80, "open", "600.00", date(2024, 5, 1)),
]
CREDITS = [
    dc(1, {"A": "600.00", "B": "400.00"}, sourcers={"A"}),
    dc(2, {"C": "500.00"}),
    dc(3, {"A": "2000.00"}, sourcers={"A"}),
    dc(4, {}),
    dc(5, {"B": "700.00"}, sourcers={"B"}),
    dc(6, {}),
    dc(7, {}),
    dc(8, {"A": "1000.00"}),
    dc(9, {}),
]


# -- ecosystem metrics -----------------------------------------------------------------


def test_ecosystem_metrics_on_the_portfolio():
    m = ecosystem_metrics(DEALS, CREDITS)
    assert m["currency"] == "USD"
    assert m["deals"] == 9
    # With partners: 1, 2, 3, 5, 8 -> 5 of 9 deals; 1000 + 500 + 2000 + 700 + 1000 = 5200 of 6600 = 26/33.
    assert m["influenced_deals"] == 5
    assert m["influenced_share_count"] == pytest.approx(5 / 9)
    assert m["influenced_share_amount"] == pytest.approx(26 / 33)
    # Win rate with: won 1, 2, 3, lost 5 -> 3/4. Without: won 4, lost 6, 7 -> 1/3.
    assert m["win_rate"] == {"with_partners": pytest.approx(0.75), "without_partners": pytest.approx(1 / 3)}
    # Average won deal: with (1000 + 500 + 2000) / 3 = 1166.666.. -> 1166.67; without 300 / 1.
    assert m["avg_deal_size"] == {"with_partners": "1166.67", "without_partners": "300.00"}
    # Cycle over closed deals: with (30 + 30 + 100 + 40) / 4 = 50; without (20 + 10 + 20) / 3 = 16.67.
    assert m["avg_sales_cycle_days"] == {"with_partners": pytest.approx(50.0), "without_partners": pytest.approx(50 / 3)}
    # Won accounts 10 (deals 1, 2: partners A, B, C -> 3), 20 (A -> 1), 30 (none). Depth over 10 and 20: (3 + 1) / 2.
    assert m["ecosystem_depth"] == pytest.approx(2.0)
    assert m["won_accounts"] == 3 and m["partnered_won_accounts"] == 2
    # Credited won: A 600 + 2000 = 2600, B 400 (deal 5 is lost), C 500; total 3500.
    assert m["partner_share"] == {"A": pytest.approx(26 / 35), "B": pytest.approx(4 / 35), "C": pytest.approx(1 / 7)}
    json.dumps(m)  # JSON-able as it is


def test_metrics_of_empty_and_one_sided_portfolios():
    m = ecosystem_metrics([], [])
    assert m["deals"] == 0 and m["currency"] is None
    assert m["influenced_share_amount"] is None and m["influenced_share_count"] is None
    assert m["win_rate"] == {"with_partners": None, "without_partners": None}
    assert m["avg_deal_size"] == {"with_partners": None, "without_partners": None}
    assert m["avg_sales_cycle_days"] == {"with_partners": None, "without_partners": None}
    assert m["ecosystem_depth"] is None and m["partner_share"] == {}
    # Only open deals, no partners: shares 0, nothing closed.
    only_open = [deal(1, 1, "open", "10.00", date(2024, 1, 1))]
    m = ecosystem_metrics(only_open, [])  # a deal without a credit record counts as without partners
    assert m["influenced_share_count"] == 0.0 and m["influenced_share_amount"] == 0.0
    assert m["win_rate"]["without_partners"] is None


def test_metrics_refuse_mixed_currencies_without_rates_and_convert_with_them():
    deals = [
        deal(1, 1, "won", "100.00", date(2024, 1, 1), date(2024, 2, 1)),
        deal(2, 2, "won", "100.00", date(2024, 1, 1), date(2024, 2, 1), currency="EUR"),
    ]
    credits = [dc(1, {"A": "100.00"}), dc(2, {})]
    with pytest.raises(InvalidArgument, match=r"several currencies \(EUR, USD\); give exchange rates"):
        ecosystem_metrics(deals, credits)
    # EUR 100 at 1.5 = USD 150: influenced share of amount 100 / 250 = 0.4; average won deal without partners 150.00.
    m = ecosystem_metrics(deals, credits, rates={"EUR": D("1.5")}, reporting_currency="USD")
    assert m["currency"] == "USD"
    assert m["influenced_share_amount"] == pytest.approx(0.4)
    assert m["avg_deal_size"] == {"with_partners": "100.00", "without_partners": "150.00"}
    with pytest.raises(InvalidArgument, match="no exchange rate to USD for: EUR"):
        ecosystem_metrics(deals, credits, rates={"GBP": D("1.2")}, reporting_currency="USD")
    with pytest.raises(InvalidArgument, match="need a reporting currency"):
        ecosystem_metrics(deals, credits, rates={"EUR": D("1.5")})


def test_metrics_from_the_engine():
    # Two won deals on one account, each touched by a different partner: depth 2.
    deals = [
        deal(1, 7, "won", "100.00", date(2024, 1, 1), date(2024, 2, 1)),
        deal(2, 7, "won", "100.00", date(2024, 1, 1), date(2024, 3, 1)),
    ]
    touches = {1: [Touch("A", "sourcing", date(2024, 1, 5))], 2: [Touch("B", "influence", date(2024, 2, 5))]}
    credits = credit_deals(deals, touches, AttributionConfig(), date(2024, 6, 1))
    m = ecosystem_metrics(deals, credits)
    assert m["ecosystem_depth"] == pytest.approx(2.0) and m["won_accounts"] == 1
    assert m["partner_share"] == {"A": pytest.approx(0.5), "B": pytest.approx(0.5)}


# -- partner summaries -----------------------------------------------------------------


def test_partner_summaries_on_the_portfolio():
    rows = {s.partner: s for s in summarize_partners(DEALS, CREDITS, partners=["D"])}
    assert list(rows) == ["A", "B", "C", "D"]
    # A: influenced 1, 3, 8; credited won 600 + 2000; open 1000; sourced 1, 3; closed influenced 1, 3 both won.
    a = rows["A"]
    assert (a.credited_won, a.credited_open, a.deals_sourced, a.deals_influenced) == (D("2600.00"), D("1000.00"), 2, 3)
    assert a.win_rate_influenced == 1.0
    assert (a.won_credited, a.open_credited) == (2, 1)
    # B: influenced 1 (won), 5 (lost) -> 1/2; credited won 400 (the lost deal's 700 counts nowhere); sourced 5.
    b = rows["B"]
    assert (b.credited_won, b.credited_open, b.deals_sourced, b.deals_influenced) == (D("400.00"), D("0.00"), 1, 2)
    assert b.win_rate_influenced == 0.5
    c = rows["C"]
    assert (c.credited_won, c.deals_sourced, c.deals_influenced, c.win_rate_influenced) == (D("500.00"), 0, 1, 1.0)
    d = rows["D"]
    assert (d.credited_won, d.deals_influenced, d.win_rate_influenced) == (D("0.00"), 0, None)
    assert a.to_dict() == {
        "partner": "A",
        "credited_won": "2600.00",
        "credited_open": "1000.00",
        "deals_sourced": 2,
        "deals_influenced": 3,
        "win_rate_influenced": 1.0,
    }


def test_partner_influenced_only_open_deals_has_no_win_rate():
    deals = [deal(1, 1, "open", "10.00", date(2024, 1, 1))]
    (row,) = summarize_partners(deals, [dc(1, {"A": "10.00"})])
    assert row.win_rate_influenced is None and row.credited_open == D("10.00")


def test_summary_currency_mixing():
    deals = [
        deal(1, 1, "won", "100.00", date(2024, 1, 1), date(2024, 2, 1)),
        deal(2, 2, "won", "100.00", date(2024, 1, 1), date(2024, 2, 1), currency="EUR"),
    ]
    credits = [dc(1, {"A": "100.00"}), dc(2, {"A": "33.33"})]
    with pytest.raises(InvalidArgument, match="several currencies"):
        summarize_partners(deals, credits)
    # 100.00 USD + 33.33 EUR at 1.1 = 36.663 -> 136.663 -> 136.66 (rounded once, half even).
    (row,) = summarize_partners(deals, credits, rates={"EUR": D("1.1")}, reporting_currency="USD")
    assert row.credited_won == D("136.66") and row.currency == "USD"
    # A EUR deal nobody is credited on does not enter a sum, so it does not count as mixing.
    (row,) = summarize_partners(deals, [credits[0], dc(2, {})])
    assert row.credited_won == D("100.00") and row.currency == "USD"


# -- release policy --------------------------------------------------------------------


def summaries():
    return {s.partner: s for s in summarize_partners(DEALS, CREDITS)}


def test_release_below_k_deals_suppresses_everything_without_telling_the_count():
    config = AttributionConfig(min_deals=2)
    release = partner_release(summaries()["C"], config)  # C influenced 1 deal
    fields = ["credited_won", "credited_open", "deals_sourced", "deals_influenced", "win_rate_influenced"]
    assert list(release) == ["partner", "currency", "min_deals", *fields]
    for f in fields:
        assert release[f]["suppressed"] is True
        assert "fewer than 2 deals" in release[f]["reason"] and "1" not in release[f]["reason"]
    assert "500" not in json.dumps(release)


def test_release_per_field_needs_k_deals_under_each_number():
    config = AttributionConfig(min_deals=2)
    # A: influenced 3 >= 2; credited_won rests on 2 won deals -> shown; credited_open on 1 open deal -> suppressed
    # (it would be deal 8's credit); win rate on 2 closed deals -> shown.
    a = partner_release(summaries()["A"], config)
    assert a["partner"] == "A" and a["currency"] == "USD" and a["min_deals"] == 2
    assert a["credited_won"] == "2600.00"
    assert a["credited_open"] == {"suppressed": True, "reason": "rests on fewer than 2 open deals credited to this partner"}
    assert a["deals_sourced"] == 2 and a["deals_influenced"] == 3
    assert a["win_rate_influenced"] == 1.0
    # B: influenced 2; credited won rests on deal 1 only -> suppressed; win rate on 2 closed -> 0.5.
    b = partner_release(summaries()["B"], config)
    assert b["credited_won"]["suppressed"] is True and "400" not in json.dumps(b)
    assert b["win_rate_influenced"] == 0.5
    assert b["deals_influenced"] == 2


def test_release_shows_only_fields_in_partner_sees_and_no_other_partner():
    config = AttributionConfig(min_deals=2, partner_sees=("credited_won",))
    a = partner_release(summaries()["A"], config)
    assert a == {"partner": "A", "currency": "USD", "min_deals": 2, "credited_won": "2600.00"}
    text = json.dumps(partner_release(summaries()["A"], AttributionConfig(min_deals=2)))
    assert '"B"' not in text and '"C"' not in text


def test_release_default_k_5_suppresses_a_small_partner():
    release = partner_release(summaries()["A"], AttributionConfig())
    assert all(release[f]["suppressed"] for f in AttributionConfig().partner_sees)


def test_release_of_a_hand_made_summary_at_exactly_k():
    s = PartnerSummary("P", "EUR", D("5000.00"), D("0.00"), 0, 5, 3, 2, 5, 0)
    release = partner_release(s, AttributionConfig(min_deals=5))
    # 5 influenced, 5 won credited -> credited_won shown; 0 open -> suppressed; 3 + 2 closed -> 3/5 shown.
    assert release["credited_won"] == "5000.00"
    assert release["credited_open"]["suppressed"] is True
    assert release["win_rate_influenced"] == 0.6
    assert release["deals_sourced"] == 0
