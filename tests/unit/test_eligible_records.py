"""eligible_records.eligible_by_deal against the definition, eligibility.eligible_touches, deal by deal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom.attribution import AttributionConfig, Deal, Touch, credit_deals, eligible_touches
from cleanroom.attribution.eligible_records import eligible_by_deal, reference_days
from cleanroom.attribution.recordio import NO_DATE, encode_deals, encode_touches
from cleanroom.attribution.records import ROLES

TODAY = date(2025, 6, 30)
# Names whose plain string order differs from a case-folded or length order.
PARTNERS = ["b", "B", "a-partner", "Z", "zz", "A"]


@st.composite
def jobs(draw):
    lookback = draw(st.sampled_from([1, 2, 30, 365]))
    n_deals = draw(st.integers(1, 25))
    n_accounts = draw(st.integers(1, 8))  # few accounts: deals share them
    deals = []
    for ref in range(n_deals):
        outcome = draw(st.sampled_from(["won", "lost", "open"]))
        created = TODAY - timedelta(days=draw(st.integers(0, 400)))
        closed = None if outcome == "open" and draw(st.booleans()) else created + timedelta(days=draw(st.integers(0, 200)))
        deals.append(
            Deal(
                ref=ref * 3 + 1,
                account=0,
                amount=Decimal(draw(st.integers(0, 10**6))) / 100,
                currency="USD",
                outcome=outcome,
                created=created,
                closed=closed,
            )
        )
    partners = draw(st.lists(st.sampled_from(PARTNERS), min_size=0, max_size=4, unique=True))
    runs = []
    for name in partners:
        labels = [draw(st.integers(0, n_accounts - 1)) for _ in deals]  # each run labels the accounts its own way
        touches = []
        for _ in range(draw(st.integers(0, 30))):
            deal = deals[draw(st.integers(0, n_deals - 1))]
            reference = deal.closed if deal.outcome != "open" else TODAY
            # Around the window's edges, inside it, and outside it on both sides.
            offset = draw(st.sampled_from([0, 1, -1, lookback, lookback + 1, lookback - 1, -30, 10, 500]))
            touches.append(
                (draw(st.integers(0, n_accounts - 1)), draw(st.sampled_from(ROLES)), reference - timedelta(days=offset))
            )
        touches.sort(key=lambda t: t[0])
        runs.append((name, labels, touches))
    return deals, runs, lookback


def _expected(deals, runs, config):
    merged = {d.ref: [] for d in deals}
    for name, labels, touches in runs:
        for deal, label in zip(deals, labels, strict=True):
            merged[deal.ref].extend(Touch(name, role, day) for account, role, day in touches if account == label)
    # Shuffle-proof: the definition sorts, so feed it the touches in reverse.
    found = {ref: eligible_touches(next(d for d in deals if d.ref == ref), ts[::-1], config, TODAY) for ref, ts in merged.items()}
    return {ref: ts for ref, ts in found.items() if ts}


def _arrays(deals, runs):
    rows = encode_deals(deals, refs=[d.ref for d in deals], accounts=[0] * len(deals))
    partners = []
    for name, labels, touches in runs:
        touch_rows = encode_touches(*zip(*touches, strict=True)) if touches else encode_touches([], [], [])
        partners.append((name, np.asarray(labels, dtype=np.uint32), touch_rows))
    return rows, partners


@settings(max_examples=300, deadline=None)
@given(jobs())
def test_same_touches_in_the_same_order_as_the_definition(job):
    deals, runs, lookback = job
    config = AttributionConfig(lookback_days=lookback)
    rows, partners = _arrays(deals, runs)
    got = eligible_by_deal(rows, partners, lookback, TODAY)
    assert got == _expected(deals, runs, config)
    # And crediting from them is crediting from the raw touches, for every model.
    raw = {
        d.ref: [
            Touch(name, role, day) for name, labels, touches in runs for account, role, day in touches if account == labels[i]
        ]
        for i, d in enumerate(deals)
    }
    for model in ("role-split", "position-based", "time-decay", "first-touch"):
        assert credit_deals(deals, got, config, TODAY, model, eligible=True) == credit_deals(deals, raw, config, TODAY, model)


def test_worked_example_window_edges_and_ties():
    deal = Deal(
        ref=7, account=0, amount=Decimal("100"), currency="USD", outcome="won", created=date(2025, 1, 1), closed=date(2025, 3, 31)
    )
    edge = date(2025, 3, 31) - timedelta(days=30)
    runs = [
        ("b", [0], [(0, "sourcing", date(2025, 3, 31)), (0, "technical", edge), (0, "influence", edge - timedelta(days=1))]),
        (
            "a",
            [1],
            [
                (0, "sourcing", date(2025, 3, 1)),
                (1, "technical", date(2025, 3, 31)),
                (1, "co-sell", date(2025, 3, 31)),
                (1, "sourcing", date(2025, 4, 1)),
            ],
        ),
    ]
    rows, partners = _arrays([deal], runs)
    got = eligible_by_deal(rows, partners, 30, TODAY)
    # Run "a" labels the deal's account 1, so a's touch on its account 0 is not this deal's.
    assert got == {
        7: [
            Touch("b", "technical", edge),
            Touch("a", "co-sell", date(2025, 3, 31)),
            Touch("a", "technical", date(2025, 3, 31)),
            Touch("b", "sourcing", date(2025, 3, 31)),
        ]
    }


def test_open_deals_are_judged_today_and_nothing_eligible_means_absent():
    open_deal = Deal(ref=1, account=0, amount=Decimal(5), currency="USD", outcome="open", created=date(2025, 1, 1), closed=None)
    rows, partners = _arrays([open_deal], [("p", [0], [(0, "influence", TODAY + timedelta(days=1))])])
    assert reference_days(rows, TODAY).tolist() == [(TODAY - date(1970, 1, 1)).days]
    assert eligible_by_deal(rows, partners, 365, TODAY) == {}
    assert eligible_by_deal(rows, [], 365, TODAY) == {}


def test_a_closed_deal_without_close_date_is_refused():
    rows, partners = _arrays([Deal(1, 0, Decimal(1), "USD", "open", date(2025, 1, 1), None)], [])
    rows["outcome"] = 0  # won, with closed == NO_DATE: check_deals refuses it on the wire; this refuses it too
    assert rows["closed"][0] == NO_DATE
    with pytest.raises(ValueError, match="no close date"):
        eligible_by_deal(rows, partners, 365, TODAY)


def test_labels_must_cover_every_deal():
    rows, _ = _arrays([Deal(1, 0, Decimal(1), "USD", "open", date(2025, 1, 1), None)], [])
    with pytest.raises(ValueError, match="2 account labels for 1 deals"):
        eligible_by_deal(rows, [("p", np.zeros(2, dtype=np.uint32), encode_touches([], [], []))], 365, TODAY)
