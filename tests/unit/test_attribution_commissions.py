"""Commission plans and statements on a hand-built ledger.

DealCredits are written by hand (not produced by the engine) so each plan is
tested on its own; every expected amount is worked out in the comments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cleanroom.attribution.commissions import (
    FixedFeePlan,
    HybridPlan,
    PercentagePlan,
    Period,
    Tier,
    TieredPlan,
    commission_statement,
    month_period,
    parse_plan,
    quarter_period,
)
from cleanroom.attribution.engine import DealCredit
from cleanroom.attribution.records import Deal
from cleanroom.errors import InvalidArgument

D = Decimal
Q1 = (date(2024, 1, 1), date(2024, 3, 31))


def deal(ref, outcome, created, closed, amount="10000.00", currency="USD"):
    return Deal(ref, ref, D(amount), currency, outcome, created, closed)


def dc(ref, credits, sourcers=(), influencers=None):
    credits = {p: D(a) for p, a in credits.items()}
    return DealCredit(
        ref,
        credits,
        D("0.00"),
        frozenset(influencers if influencers is not None else set(credits) | set(sourcers)),
        frozenset(sourcers),
    )


# Partner P's ledger for Q1 2024:
#   1 won  closed 2024-02-10, created 2023-11-01, P credit 5000, P sourced
#   2 won  closed 2024-03-31 (last day, in), created 2024-01-15, P credit 2000, not sourced by P
#   3 won  closed 2024-04-01 (out), created 2024-02-01, P credit 3000, P sourced
#   4 lost closed 2024-02-20, created 2024-01-10, P credit 1000, P sourced
#   5 open created 2024-03-01, P credit 4000, P sourced
#   6 won  closed 2024-01-01 (first day, in), created 2023-12-01, only Q: 800
DEALS = [
    deal(1, "won", date(2023, 11, 1), date(2024, 2, 10)),
    deal(2, "won", date(2024, 1, 15), date(2024, 3, 31)),
    deal(3, "won", date(2024, 2, 1), date(2024, 4, 1)),
    deal(4, "lost", date(2024, 1, 10), date(2024, 2, 20)),
    deal(5, "open", date(2024, 3, 1), None),
    deal(6, "won", date(2023, 12, 1), date(2024, 1, 1)),
]
CREDITS = [
    dc(1, {"P": "5000.00", "Q": "5000.00"}, sourcers={"P"}),
    dc(2, {"P": "2000.00"}),
    dc(3, {"P": "3000.00"}, sourcers={"P"}),
    dc(4, {"P": "1000.00"}, sourcers={"P"}),
    dc(5, {"P": "4000.00"}, sourcers={"P"}),
    dc(6, {"Q": "800.00"}, sourcers={"Q"}),
]


def lines(statement):
    return [(line.ref, line.item, line.amount) for line in statement.lines]


def test_percentage_of_credited_won_revenue():
    # Won in Q1 with P credit: 1 (5000) and 2 (2000). 10% -> 500.00 + 200.00 = 700.00.
    s = commission_statement(PercentagePlan(D("0.10")), "P", DEALS, CREDITS, *Q1)
    assert lines(s) == [(1, "percentage", D("500.00")), (2, "percentage", D("200.00"))]
    assert s.lines[0].basis == D("5000.00") and s.lines[0].rate == D("0.10")
    assert s.total == D("700.00")
    assert s.currency == "USD"
    assert s.sourced_won == 1  # only deal 1 is both sourced by P and won in Q1


def test_fixed_fee_per_sourced_won_deal():
    # Sourced by P and won in Q1: deal 1 only (3 closed in April, 4 lost, 5 open, 2 not sourced).
    s = commission_statement(FixedFeePlan(D("250")), "P", DEALS, CREDITS, *Q1)
    assert lines(s) == [(1, "fee", D("250.00"))]
    assert s.total == D("250.00")


def test_period_boundaries_are_inclusive():
    # Q's deal 6 closed on 2024-01-01, the first day of Q1; 1 closed inside. 10% of 800 + 10% of 5000.
    s = commission_statement(PercentagePlan(D("0.1")), "Q", DEALS, CREDITS, *Q1)
    assert lines(s) == [(1, "percentage", D("500.00")), (6, "percentage", D("80.00"))]
    assert s.total == D("580.00")
    # The day after Q1 ends (deal 3, 2024-04-01) belongs to Q2.
    q2 = commission_statement(PercentagePlan(D("0.1")), "P", DEALS, CREDITS, date(2024, 4, 1), date(2024, 6, 30))
    assert lines(q2) == [(3, "percentage", D("300.00"))]


def test_hybrid_fee_per_sourced_deal_created_plus_percentage_when_won():
    # Fees (100 each) for deals P sourced that were created in Q1: 3 (Feb 1), 4 (Jan 10), 5 (Mar 1); not 1 (Nov 2023).
    # Percentage (5%) on P's credit on deals P sourced that were won in Q1: deal 1, 5% of 5000 = 250.00.
    # Deal 2 is won in Q1 but not sourced by P: no percentage. Total 250 + 3 x 100 = 550.00.
    s = commission_statement(HybridPlan(D("100"), D("0.05")), "P", DEALS, CREDITS, *Q1)
    assert lines(s) == [
        (1, "percentage", D("250.00")),
        (3, "fee", D("100.00")),
        (4, "fee", D("100.00")),
        (5, "fee", D("100.00")),
    ]
    assert s.total == D("550.00")


def test_hybrid_fee_and_percentage_on_the_same_deal_fee_first():
    deals = [deal(1, "won", date(2024, 1, 5), date(2024, 2, 5))]
    s = commission_statement(HybridPlan(D("50"), D("0.1")), "P", deals, [dc(1, {"P": "300.00"}, sourcers={"P"})], *Q1)
    assert lines(s) == [(1, "fee", D("50.00")), (1, "percentage", D("30.00"))]
    assert s.total == D("80.00")


TIERS = {
    "kind": "tiered",
    "tiers": [{"from": 1, "to": 10, "rate": "0.15"}, {"from": 11, "to": 25, "rate": "0.20"}, {"from": 26, "rate": "0.25"}],
}


def sourced_won(n, credit="100.00"):
    deals = [deal(r, "won", date(2024, 1, 1), date(2024, 2, 1)) for r in range(1, n + 1)]
    return deals, [dc(r, {"P": credit}, sourcers={"P"}) for r in range(1, n + 1)]


@pytest.mark.parametrize(
    ("n", "rate", "total"),
    [
        (1, "0.15", "15.00"),  # 15% of 100
        (10, "0.15", "150.00"),  # 15% of 1000
        (11, "0.20", "220.00"),  # 20% of 1100
        (25, "0.20", "500.00"),  # 20% of 2500
        (26, "0.25", "650.00"),  # 25% of 2600
    ],
)
def test_tiered_boundaries(n, rate, total):
    deals, credits = sourced_won(n)
    s = commission_statement(parse_plan(TIERS), "P", deals, credits, *Q1)
    assert s.sourced_won == n
    assert s.tier is not None and s.tier.rate == D(rate)
    assert all(line.rate == D(rate) for line in s.lines) and len(s.lines) == n
    assert s.total == D(total)


def test_tiered_rate_applies_to_all_credited_won_revenue_in_the_period():
    # 10 sourced won deals (100 each) reach tier 1 (15%); a won deal P only influenced (credit 500)
    # is paid at that rate too: 15% of 1500 = 225.00.
    deals, credits = sourced_won(10)
    deals.append(deal(11, "won", date(2024, 1, 1), date(2024, 3, 1)))
    credits.append(dc(11, {"P": "500.00"}, sourcers={"Q"}))
    s = commission_statement(parse_plan(TIERS), "P", deals, credits, *Q1)
    assert s.sourced_won == 10
    assert s.total == D("225.00")


def test_tiered_below_the_first_tier_pays_nothing():
    deals = [deal(1, "won", date(2024, 1, 1), date(2024, 2, 1))]
    s = commission_statement(parse_plan(TIERS), "P", deals, [dc(1, {"P": "100.00"}, sourcers={"Q"})], *Q1)
    assert s.tier is None and s.sourced_won == 0
    assert lines(s) == [(1, "percentage", D("0.00"))]
    assert s.total == D("0.00")


def test_lines_round_half_up_to_the_cent():
    # 10% of 0.05 = 0.005 -> 0.01 (half up); 10% of 0.04 = 0.004 -> 0.00.
    deals = [deal(1, "won", date(2024, 1, 1), date(2024, 2, 1)), deal(2, "won", date(2024, 1, 1), date(2024, 2, 1))]
    credits = [dc(1, {"P": "0.05"}), dc(2, {"P": "0.04"})]
    s = commission_statement(PercentagePlan(D("0.1")), "P", deals, credits, *Q1)
    assert lines(s) == [(1, "percentage", D("0.01")), (2, "percentage", D("0.00"))]
    assert s.total == D("0.01")


def test_empty_statement():
    s = commission_statement(PercentagePlan(D("0.1")), "Nobody", DEALS, CREDITS, *Q1)
    assert s.lines == () and s.total == D("0.00") and s.currency is None


def test_statement_to_dict():
    s = commission_statement(FixedFeePlan(D("250")), "P", DEALS, CREDITS, *Q1)
    assert s.to_dict() == {
        "partner": "P",
        "plan": {"kind": "fixed-fee", "fee": "250"},
        "period": {"start": "2024-01-01", "end": "2024-03-31"},
        "currency": "USD",
        "sourced_won": 1,
        "tier": None,
        "lines": [{"ref": 1, "item": "fee", "basis": None, "rate": None, "amount": "250.00"}],
        "total": "250.00",
    }


def test_currencies():
    deals = [
        deal(1, "won", date(2024, 1, 1), date(2024, 2, 1), currency="USD"),
        deal(2, "won", date(2024, 1, 1), date(2024, 2, 1), currency="EUR"),
    ]
    credits = [dc(1, {"P": "1000.00"}), dc(2, {"P": "1000.00"})]
    with pytest.raises(InvalidArgument, match=r"several currencies \(EUR, USD\); set the plan's currency"):
        commission_statement(PercentagePlan(D("0.1")), "P", deals, credits, *Q1)
    with pytest.raises(InvalidArgument, match="no exchange rate to USD for: EUR"):
        commission_statement(PercentagePlan(D("0.1"), "USD"), "P", deals, credits, *Q1)
    # EUR 1000.00 at 1.1 -> USD 1100.00 basis -> 110.00; USD deal 100.00. Total 210.00 USD.
    s = commission_statement(PercentagePlan(D("0.1"), "USD"), "P", deals, credits, *Q1, rates={"EUR": D("1.1")})
    assert [(line.ref, line.basis, line.amount) for line in s.lines] == [
        (1, D("1000.00"), D("100.00")),
        (2, D("1100.00"), D("110.00")),
    ]
    assert s.total == D("210.00") and s.currency == "USD"
    # A fixed fee is in the plan's currency whatever the deal's: no rate needed.
    fee = commission_statement(
        FixedFeePlan(D("50"), "USD"), "P", deals, [dc(1, {"P": "1.00"}, {"P"}), dc(2, {"P": "1.00"}, {"P"})], *Q1
    )
    assert lines(fee) == [(1, "fee", D("50.00")), (2, "fee", D("50.00"))] and fee.currency == "USD"
    with pytest.raises(InvalidArgument, match="several currencies"):
        commission_statement(FixedFeePlan(D("50")), "P", deals, [dc(1, {"P": "1.00"}, {"P"}), dc(2, {"P": "1.00"}, {"P"})], *Q1)
    with pytest.raises(InvalidArgument, match="positive"):
        commission_statement(PercentagePlan(D("0.1"), "USD"), "P", deals, credits, *Q1, rates={"EUR": D("-1")})


def test_period_must_not_end_before_it_starts():
    with pytest.raises(InvalidArgument, match="before it starts"):
        commission_statement(PercentagePlan(D("0.1")), "P", DEALS, CREDITS, date(2024, 3, 31), date(2024, 1, 1))


# -- periods ---------------------------------------------------------------------------


def test_month_and_quarter_periods():
    assert month_period(date(2024, 2, 15)) == Period(date(2024, 2, 1), date(2024, 2, 29))  # leap year
    assert month_period(date(2023, 2, 28)) == Period(date(2023, 2, 1), date(2023, 2, 28))
    assert month_period(date(2023, 12, 5)) == Period(date(2023, 12, 1), date(2023, 12, 31))
    assert quarter_period(date(2024, 1, 1)) == Period(date(2024, 1, 1), date(2024, 3, 31))
    assert quarter_period(date(2024, 5, 20)) == Period(date(2024, 4, 1), date(2024, 6, 30))
    assert quarter_period(date(2024, 9, 30)) == Period(date(2024, 7, 1), date(2024, 9, 30))
    assert quarter_period(date(2024, 11, 30)) == Period(date(2024, 10, 1), date(2024, 12, 31))
    assert date(2024, 3, 31) in quarter_period(date(2024, 2, 1))
    assert date(2024, 4, 1) not in quarter_period(date(2024, 2, 1))


# -- plan parsing ----------------------------------------------------------------------


def test_parse_each_kind_and_round_trip():
    assert parse_plan({"kind": "percentage", "rate": "0.10"}) == PercentagePlan(D("0.1"))
    assert parse_plan({"kind": "fixed-fee", "fee": 500, "currency": "EUR"}) == FixedFeePlan(D(500), "EUR")
    assert parse_plan({"kind": "hybrid", "fee": "250.00", "rate": 0.05}) == HybridPlan(D(250), D("0.05"))
    tiered = parse_plan(TIERS)
    assert tiered == TieredPlan((Tier(1, 10, D("0.15")), Tier(11, 25, D("0.2")), Tier(26, None, D("0.25"))))
    assert tiered.to_dict() == {
        "kind": "tiered",
        "tiers": [{"from": 1, "to": 10, "rate": "0.15"}, {"from": 11, "to": 25, "rate": "0.2"}, {"from": 26, "rate": "0.25"}],
    }
    for plan in (tiered, parse_plan({"kind": "hybrid", "fee": "250.00", "rate": "0.05", "currency": "USD"})):
        assert parse_plan(plan.to_dict()) == plan


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("percentage", "must be an object with a kind"),
        ({"kind": "bonus"}, "unknown kind 'bonus'; use one of: percentage, fixed-fee, tiered, hybrid"),
        ({"kind": "percentage"}, "a percentage plan needs: rate"),
        ({"kind": "percentage", "rate": "15"}, r"between 0 and 1 \(write 15% as \"0.15\"\)"),
        ({"kind": "percentage", "rate": "-0.1"}, "between 0 and 1"),
        ({"kind": "percentage", "rate": "0.1", "cap": 5}, "unknown key.*cap.*accepted: kind, rate, currency"),
        ({"kind": "percentage", "rate": "0.1", "currency": ""}, "currency must be a currency code"),
        ({"kind": "fixed-fee", "fee": "-5"}, "fee must be >= 0"),
        ({"kind": "fixed-fee", "fee": "five"}, "fee must be a decimal number"),
        ({"kind": "hybrid", "fee": "5"}, "a hybrid plan needs: rate"),
        ({"kind": "tiered", "tiers": []}, "tiers must be a non-empty list"),
        (
            {"kind": "tiered", "tiers": [{"from": 1, "to": 10, "rate": "0.1"}, {"from": 12, "rate": "0.2"}]},
            "tier 2 starts at 12 but the tier before ends at 10",
        ),
        (
            {"kind": "tiered", "tiers": [{"from": 1, "to": 10, "rate": "0.1"}, {"from": 10, "rate": "0.2"}]},
            "without gaps or overlaps",
        ),
        (
            {"kind": "tiered", "tiers": [{"from": 1, "rate": "0.1"}, {"from": 2, "rate": "0.2"}]},
            "only the last tier may be open-ended",
        ),
        ({"kind": "tiered", "tiers": [{"from": 5, "to": 1, "rate": "0.1"}]}, "tier 1 to must be a whole number >= 5"),
        ({"kind": "tiered", "tiers": [{"from": 1, "rate": "2"}]}, "tier 1 rate must be a fraction between 0 and 1"),
        ({"kind": "tiered", "tiers": [{"from": 1, "upto": 3, "rate": "0.1"}]}, "unknown key.*upto"),
        ({"kind": "tiered", "tiers": [{"to": 3, "rate": "0.1"}]}, "tier 1 needs from and rate"),
        ({"kind": "tiered", "tiers": ["1-10"]}, "tier 1 must be an object"),
    ],
)
def test_plan_validation_errors(plan, message):
    with pytest.raises(InvalidArgument, match=message) as info:
        parse_plan(plan)
    assert str(info.value).startswith("commission plan: ")
