"""Attribution models, eligibility and cent allocation on hand-worked examples.

Every expected amount is worked out by hand in the comments next to it, never
taken from cleanroom.attribution itself. Money is Decimal with two decimals.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom.attribution.config import AttributionConfig
from cleanroom.attribution.eligibility import eligible_touches, reference_date
from cleanroom.attribution.engine import DealCredit, credit_deals
from cleanroom.attribution.money import allocate, money_str
from cleanroom.attribution.records import Deal, Touch
from cleanroom.errors import InvalidArgument, RequestError

D = Decimal
TODAY = date(2024, 6, 1)
CONFIG = AttributionConfig()


def won(
    ref: int = 1, amount: str = "100.00", closed: date = date(2024, 3, 31), created: date = date(2023, 1, 1), account: int = 1
) -> Deal:
    return Deal(ref, account, D(amount), "USD", "won", created, closed)


def t(partner: str, role: str, day: date) -> Touch:
    return Touch(partner, role, day)


def credit(deal: Deal, touches: list[Touch], model: str, config: AttributionConfig = CONFIG, today: date = TODAY) -> DealCredit:
    (result,) = credit_deals([deal], {deal.ref: touches}, config, today, model)
    return result


def credits_of(
    deal: Deal, touches: list[Touch], model: str, config: AttributionConfig = CONFIG, today: date = TODAY
) -> dict[str, Decimal]:
    return credit(deal, touches, model, config, today).credits


# -- eligibility ---------------------------------------------------------------------


def test_lookback_boundary_365_days_in_366_out():
    # 2023 has 365 days: 2023-12-31 minus 365 days is 2022-12-31 (in), 2022-12-30 is 366 days (out).
    deal = won(closed=date(2023, 12, 31))
    touches = [t("In", "influence", date(2022, 12, 31)), t("Out", "influence", date(2022, 12, 30))]
    assert [x.partner for x in eligible_touches(deal, touches, CONFIG, TODAY)] == ["In"]
    assert credits_of(deal, touches, "linear") == {"In": D("100.00")}


def test_custom_lookback_window():
    # lookback 30: close 2024-03-31 -> window 2024-03-01 .. 2024-03-31.
    config = AttributionConfig(lookback_days=30)
    deal = won(closed=date(2024, 3, 31))
    touches = [t("A", "influence", date(2024, 3, 1)), t("B", "influence", date(2024, 2, 29))]
    assert [x.partner for x in eligible_touches(deal, touches, config, TODAY)] == ["A"]


def test_touch_after_close_is_ignored_touch_on_close_day_counts():
    deal = won(closed=date(2024, 3, 1))
    touches = [t("Late", "sourcing", date(2024, 3, 2)), t("OnDay", "technical", date(2024, 3, 1))]
    result = credit(deal, touches, "role-split")
    # Only OnDay's technical touch is eligible: technical is the only role present -> 100%.
    assert result.credits == {"OnDay": D("100.00")}
    assert result.influencers == frozenset({"OnDay"})
    assert result.sourcers == frozenset()


def test_open_deal_uses_today_not_expected_close():
    # Expected close 2024-09-30 is in the future; today is 2024-06-01.
    deal = Deal(1, 1, D("100.00"), "USD", "open", date(2024, 1, 1), date(2024, 9, 30))
    assert reference_date(deal, TODAY) == TODAY
    # 2023-06-01 .. 2024-06-01 is 366 days (Feb 29 2024), so 365 days back is 2023-06-02.
    touches = [
        t("Tomorrow", "sourcing", date(2024, 6, 2)),  # after today: ignored although before the expected close
        t("Today", "influence", date(2024, 6, 1)),
        t("Edge", "influence", date(2023, 6, 2)),  # exactly 365 days back: in
        t("Old", "influence", date(2023, 6, 1)),  # 366 days back: out
    ]
    assert [x.partner for x in eligible_touches(deal, touches, CONFIG, TODAY)] == ["Edge", "Today"]
    # last-touch: the latest eligible touch is Today's.
    assert credits_of(deal, touches, "last-touch") == {"Today": D("100.00")}


def test_open_deal_without_expected_close_is_fine():
    deal = Deal(1, 1, D("10.00"), "USD", "open", date(2024, 1, 1), None)
    assert credits_of(deal, [t("A", "influence", date(2024, 5, 1))], "first-touch") == {"A": D("10.00")}


def test_lost_deal_uses_its_close_date():
    deal = Deal(1, 1, D("10.00"), "USD", "lost", date(2024, 1, 1), date(2024, 2, 1))
    assert reference_date(deal, TODAY) == date(2024, 2, 1)
    assert credits_of(deal, [t("A", "influence", date(2024, 2, 2))], "linear") == {}


def test_touches_sorted_by_date_partner_role_whatever_the_input_order():
    deal = won()
    touches = [
        t("B", "influence", date(2024, 2, 1)),
        t("A", "technical", date(2024, 2, 1)),
        t("A", "influence", date(2024, 2, 1)),
        t("C", "sourcing", date(2024, 1, 1)),
    ]
    expected = [("C", "sourcing"), ("A", "influence"), ("A", "technical"), ("B", "influence")]
    for _ in range(5):
        random.shuffle(touches)
        assert [(x.partner, x.role) for x in eligible_touches(deal, touches, CONFIG, TODAY)] == expected


def test_won_deal_without_close_date_is_refused():
    deal = Deal(1, 1, D("10.00"), "USD", "won", date(2024, 1, 1), None)
    with pytest.raises(InvalidArgument, match="no close date"):
        reference_date(deal, TODAY)
    with pytest.raises(InvalidArgument, match="no close date"):
        credit_deals([deal], {}, CONFIG, TODAY)


# -- role-split ----------------------------------------------------------------------


def test_role_split_every_role_held_by_one_partner():
    # Weights 0.5/0.2/0.3/0.0 sum to 1: A 500, B 200, C 300, D (co-sell 0) nothing.
    deal = won(amount="1000.00")
    touches = [
        t("A", "sourcing", date(2024, 1, 1)),
        t("B", "technical", date(2024, 1, 2)),
        t("C", "influence", date(2024, 1, 3)),
        t("D", "co-sell", date(2024, 1, 4)),
    ]
    result = credit(deal, touches, "role-split")
    assert result.credits == {"A": D("500.00"), "B": D("200.00"), "C": D("300.00")}
    assert result.unattributed == D("0.00")
    assert result.influencers == frozenset("ABCD")  # D has no credit but did influence
    assert result.sourcers == frozenset("A")


def test_role_split_shared_role_and_redistributed_absent_role():
    # Present: sourcing (A, B) 0.5 and technical (C) 0.2; influence 0.3 absent.
    # Redistribute over 0.7: sourcing 5/7 -> A = B = 5/14, technical 2/7 -> C.
    # In cents of 1000.00 (100000): A = B = 35714.2857 -> 35714; C = 28571.4286 -> 28571.
    # Floors sum to 99999; the left cent goes to the largest remainder, C (.4286 > .2857).
    deal = won(amount="1000.00")
    touches = [t("A", "sourcing", date(2024, 1, 1)), t("B", "sourcing", date(2024, 1, 5)), t("C", "technical", date(2024, 2, 1))]
    result = credit(deal, touches, "role-split")
    assert result.credits == {"A": D("357.14"), "B": D("357.14"), "C": D("285.72")}
    assert result.unattributed == D("0.00")
    assert result.sourcers == frozenset({"A", "B"})


def test_role_split_keep_leaves_absent_roles_unattributed():
    # Same deal, unassigned=keep: sourcing 0.5 / 2 = 0.25 each, technical 0.2, influence 0.3 kept.
    config = AttributionConfig(unassigned="keep")
    deal = won(amount="1000.00")
    touches = [t("A", "sourcing", date(2024, 1, 1)), t("B", "sourcing", date(2024, 1, 5)), t("C", "technical", date(2024, 2, 1))]
    result = credit(deal, touches, "role-split", config)
    assert result.credits == {"A": D("250.00"), "B": D("250.00"), "C": D("200.00")}
    assert result.unattributed == D("300.00")


def test_role_split_several_touches_of_one_role_count_once():
    # A: three sourcing touches, B one influence. Present weights 0.5 + 0.3 = 0.8:
    # A 5/8 of 100 = 62.50, B 3/8 = 37.50 (linear would have given 75/25).
    deal = won()
    touches = [t("A", "sourcing", date(2024, 1, d)) for d in (1, 2, 3)] + [t("B", "influence", date(2024, 1, 4))]
    assert credits_of(deal, touches, "role-split") == {"A": D("62.50"), "B": D("37.50")}


def test_role_split_partner_with_two_roles_gets_both_parts():
    # A sourcing 0.5 + technical 0.2, B influence 0.3; only co-sell (weight 0) absent -> nothing to move.
    deal = won()
    touches = [t("A", "sourcing", date(2024, 1, 1)), t("A", "technical", date(2024, 1, 2)), t("B", "influence", date(2024, 1, 3))]
    assert credits_of(deal, touches, "role-split") == {"A": D("70.00"), "B": D("30.00")}


def test_role_split_only_zero_weight_roles_leaves_all_unattributed():
    deal = won()
    for mode in ("redistribute", "keep"):
        result = credit(deal, [t("A", "co-sell", date(2024, 1, 1))], "role-split", AttributionConfig(unassigned=mode))
        assert result.credits == {}
        assert result.unattributed == D("100.00")
        assert result.influencers == frozenset({"A"})


def test_role_split_custom_co_sell_weight():
    # Weights 0.4/0.2/0.1/0.3; present sourcing (B) 0.4 and co-sell (A) 0.2 -> 2/3 and 1/3 of 300.00.
    config = AttributionConfig(
        role_weights={"sourcing": D("0.4"), "co-sell": D("0.2"), "technical": D("0.1"), "influence": D("0.3")}
    )
    deal = won(amount="300.00")
    touches = [t("A", "co-sell", date(2024, 1, 1)), t("B", "sourcing", date(2024, 1, 2))]
    assert credits_of(deal, touches, "role-split", config) == {"A": D("100.00"), "B": D("200.00")}


def test_role_split_keep_with_zero_weight_role_present():
    # keep: A sourcing 0.5 -> 50.00; D co-sell 0 -> nothing; technical 0.2 + influence 0.3 kept -> 50.00.
    result = credit(
        won(),
        [t("A", "sourcing", date(2024, 1, 1)), t("D", "co-sell", date(2024, 1, 2))],
        "role-split",
        AttributionConfig(unassigned="keep"),
    )
    assert result.credits == {"A": D("50.00")}
    assert result.unattributed == D("50.00")


def test_role_split_weights_are_relative():
    # 5/2/3 means the same as 0.5/0.2/0.3: A sourcing 50, B technical 20, C influence 30 of 100.
    config = AttributionConfig(role_weights={"sourcing": 5, "technical": 2, "influence": 3})
    touches = [t("A", "sourcing", date(2024, 1, 1)), t("B", "technical", date(2024, 1, 1)), t("C", "influence", date(2024, 1, 1))]
    assert credits_of(won(), touches, "role-split", config) == {"A": D("50.00"), "B": D("20.00"), "C": D("30.00")}


# -- first-touch / last-touch ----------------------------------------------------------


def test_first_and_last_touch():
    deal = won(amount="250.00")
    touches = [t("A", "influence", date(2024, 1, 5)), t("B", "technical", date(2024, 1, 3)), t("C", "sourcing", date(2024, 2, 1))]
    assert credits_of(deal, touches, "first-touch") == {"B": D("250.00")}  # Jan 3 is the earliest
    assert credits_of(deal, touches, "last-touch") == {"C": D("250.00")}  # Feb 1 is the latest


def test_first_and_last_touch_ties_on_date_broken_by_partner_name():
    # Both first touches on Jan 3: (date, name) order puts Alpha first.
    # Both last touches on Feb 1: Zulu sorts after Mike, so Zulu's is the last touch.
    deal = won()
    touches = [
        t("Bravo", "influence", date(2024, 1, 3)),
        t("Alpha", "influence", date(2024, 1, 3)),
        t("Zulu", "influence", date(2024, 2, 1)),
        t("Mike", "influence", date(2024, 2, 1)),
    ]
    assert credits_of(deal, touches, "first-touch") == {"Alpha": D("100.00")}
    assert credits_of(deal, touches, "last-touch") == {"Zulu": D("100.00")}


def test_first_and_last_touch_with_one_touch():
    touches = [t("A", "co-sell", date(2024, 1, 3))]
    assert credits_of(won(), touches, "first-touch") == credits_of(won(), touches, "last-touch") == {"A": D("100.00")}


# -- linear ----------------------------------------------------------------------------


def test_linear_three_ways_cents_go_by_partner_name():
    # 100.00 / 3 = 33.333...: each gets 3333 cents, the left cent goes to the first name, a.
    deal = won()
    touches = [
        t("c", "influence", date(2024, 1, 1)),
        t("b", "influence", date(2024, 1, 1)),
        t("a", "influence", date(2024, 1, 1)),
    ]
    result = credit(deal, touches, "linear")
    assert result.credits == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    assert list(result.credits) == ["a", "b", "c"]


def test_linear_tie_rule_is_by_name_not_by_date():
    # The latest touch belongs to A, yet A still gets the extra cent: ties go by name.
    touches = [
        t("C", "influence", date(2024, 1, 1)),
        t("B", "influence", date(2024, 1, 2)),
        t("A", "influence", date(2024, 1, 3)),
    ]
    assert credits_of(won(), touches, "linear") == {"A": D("33.34"), "B": D("33.33"), "C": D("33.33")}


def test_linear_counts_touches_not_partners():
    # A 2 of 3 touches: 66.666.. -> 6666 cents rem .67; B 33.333.. -> 3333 rem .33; the left cent goes to A.
    touches = [t("A", "influence", date(2024, 1, 1)), t("A", "technical", date(2024, 1, 2)), t("B", "sourcing", date(2024, 1, 3))]
    assert credits_of(won(), touches, "linear") == {"A": D("66.67"), "B": D("33.33")}


def test_linear_one_and_two_touches():
    assert credits_of(won(), [t("A", "influence", date(2024, 1, 1))], "linear") == {"A": D("100.00")}
    two = [t("A", "influence", date(2024, 1, 1)), t("B", "influence", date(2024, 1, 2))]
    assert credits_of(won(amount="0.01"), two, "linear") == {"A": D("0.01")}  # 0.5 cent each, tie -> A; B's 0.00 left out


# -- time-decay ------------------------------------------------------------------------


def test_time_decay_whole_half_lives():
    # Close 2024-03-31, half-life 30. Ages: A 0 days -> 1; B 2024-03-01, 30 days -> 1/2;
    # C 2024-01-31, 29 (Feb 2024) + 31 = 60 days -> 1/4. Sum 7/4: A 4/7, B 2/7, C 1/7 of 700.00.
    deal = won(amount="700.00", closed=date(2024, 3, 31))
    touches = [
        t("A", "influence", date(2024, 3, 31)),
        t("B", "influence", date(2024, 3, 1)),
        t("C", "influence", date(2024, 1, 31)),
    ]
    assert credits_of(deal, touches, "time-decay") == {"A": D("400.00"), "B": D("200.00"), "C": D("100.00")}


def test_time_decay_half_a_half_life():
    # Ages 0 and 15 days, half-life 30: weights 1 and 2^-0.5 = 1/sqrt(2).
    # A = 1 / (1 + 1/sqrt 2) = 2 - sqrt 2 = 0.585786..., B = sqrt 2 - 1 = 0.414213...
    # Of 100.00: A 58.5786 -> 5857 rem .86, B 41.4214 -> 4142 rem .14; left cent to A.
    deal = won(closed=date(2024, 3, 31))
    touches = [t("A", "influence", date(2024, 3, 31)), t("B", "influence", date(2024, 3, 16))]
    assert credits_of(deal, touches, "time-decay") == {"A": D("58.58"), "B": D("41.42")}


def test_time_decay_custom_half_life_and_open_deal_age_from_today():
    # Open deal: ages count from today (2024-06-01). Half-life 10: A today -> 1, B 10 days -> 1/2, B 20 days -> 1/4.
    # A 4/7, B 3/7 of 70.00 -> 40.00 / 30.00.
    config = AttributionConfig(half_life_days=10)
    deal = Deal(1, 1, D("70.00"), "USD", "open", date(2024, 1, 1), date(2024, 12, 31))
    touches = [
        t("A", "influence", date(2024, 6, 1)),
        t("B", "influence", date(2024, 5, 22)),
        t("B", "technical", date(2024, 5, 12)),
    ]
    assert credits_of(deal, touches, "time-decay", config) == {"A": D("40.00"), "B": D("30.00")}


def test_time_decay_one_touch_takes_all():
    assert credits_of(won(), [t("A", "influence", date(2023, 6, 1))], "time-decay") == {"A": D("100.00")}


# -- position-based --------------------------------------------------------------------


def test_position_based_one_and_two_touches():
    assert credits_of(won(), [t("A", "influence", date(2024, 1, 1))], "position-based") == {"A": D("100.00")}
    two = [t("A", "influence", date(2024, 1, 1)), t("B", "influence", date(2024, 2, 1))]
    assert credits_of(won(), two, "position-based") == {"A": D("50.00"), "B": D("50.00")}


def test_position_based_three_touches_40_20_40():
    touches = [
        t("C", "influence", date(2024, 3, 1)),
        t("A", "influence", date(2024, 1, 1)),
        t("B", "influence", date(2024, 2, 1)),
    ]
    assert credits_of(won(amount="1000.00"), touches, "position-based") == {"A": D("400.00"), "B": D("200.00"), "C": D("400.00")}


def test_position_based_five_touches():
    # Order A, B, C, B, A: first and last are A -> 40% + 40% = 800.00.
    # Three middle touches share 20%: 1/15 each; B has two -> 2/15 of 1000.00 = 133.333.. (13333 rem .33),
    # C 1/15 = 66.666.. (6666 rem .67); one cent left -> C. B 133.33, C 66.67.
    touches = [
        t("A", "sourcing", date(2024, 1, 1)),
        t("B", "influence", date(2024, 1, 2)),
        t("C", "technical", date(2024, 1, 3)),
        t("B", "influence", date(2024, 1, 4)),
        t("A", "influence", date(2024, 1, 5)),
    ]
    assert credits_of(won(amount="1000.00"), touches, "position-based") == {"A": D("800.00"), "B": D("133.33"), "C": D("66.67")}


def test_position_based_first_touch_tie_on_date():
    # A and B both on Jan 1: A is first by name; B is the middle touch; C last.
    touches = [
        t("B", "influence", date(2024, 1, 1)),
        t("A", "influence", date(2024, 1, 1)),
        t("C", "influence", date(2024, 1, 2)),
    ]
    assert credits_of(won(), touches, "position-based") == {"A": D("40.00"), "B": D("20.00"), "C": D("40.00")}


# -- partner-weighted ------------------------------------------------------------------


def test_partner_weighted_sourcing_takes_all():
    touches = [t("A", "sourcing", date(2024, 1, 1)), t("B", "technical", date(2024, 3, 1)), t("C", "influence", date(2024, 3, 2))]
    assert credits_of(won(), touches, "partner-weighted") == {"A": D("100.00")}


def test_partner_weighted_several_sourcers_share_equally():
    # Three sourcers of 100.00: 33.34 / 33.33 / 33.33, extra cent by name. A's second sourcing touch does not count twice.
    touches = [
        t("C", "sourcing", date(2024, 1, 1)),
        t("A", "sourcing", date(2024, 1, 2)),
        t("A", "sourcing", date(2024, 1, 9)),
        t("B", "sourcing", date(2024, 1, 3)),
        t("D", "influence", date(2024, 3, 3)),
    ]
    assert credits_of(won(), touches, "partner-weighted") == {"A": D("33.34"), "B": D("33.33"), "C": D("33.33")}


def test_partner_weighted_falls_back_without_sourcing():
    touches = [t("A", "influence", date(2024, 1, 1)), t("B", "technical", date(2024, 2, 1))]
    assert credits_of(won(), touches, "partner-weighted") == {"B": D("100.00")}  # default fallback: last-touch
    linear = AttributionConfig(fallback_model="linear")
    assert credits_of(won(), touches, "partner-weighted", linear) == {"A": D("50.00"), "B": D("50.00")}


def test_partner_weighted_ineligible_sourcing_touch_does_not_count():
    # 2023-03-31 .. 2024-03-31 spans Feb 29 2024, so it is 366 days: the sourcing touch is out of the
    # 365-day window and the fallback (last-touch) decides.
    deal = won(closed=date(2024, 3, 31))
    touches = [t("A", "sourcing", date(2023, 3, 31)), t("B", "influence", date(2024, 1, 1))]
    result = credit(deal, touches, "partner-weighted")
    assert result.credits == {"B": D("100.00")}
    assert result.sourcers == frozenset()


# -- influenced ------------------------------------------------------------------------


def test_influenced_credits_every_partner_the_whole_amount():
    touches = [t("A", "influence", date(2024, 1, 1)), t("B", "co-sell", date(2024, 2, 1)), t("A", "sourcing", date(2024, 2, 2))]
    result = credit(won(amount="1234.50"), touches, "influenced")
    assert result.credits == {"A": D("1234.50"), "B": D("1234.50")}
    assert result.unattributed == D("0.00")


def test_influenced_without_touches_is_unattributed():
    result = credit(won(amount="80"), [], "influenced")
    assert result.credits == {}
    assert result.unattributed == D("80.00")


# -- engine ----------------------------------------------------------------------------


def test_deal_without_touches_is_wholly_unattributed_for_every_model():
    deal = won(amount="99.99")
    for model in ("role-split", "first-touch", "last-touch", "linear", "time-decay", "position-based", "partner-weighted"):
        (result,) = credit_deals([deal], {}, CONFIG, TODAY, model)
        assert result == DealCredit(1, {}, D("99.99"), frozenset(), frozenset())


def test_credit_deals_keeps_deal_order_and_uses_config_model_by_default():
    deals = [won(ref=7, amount="10.00"), won(ref=3, amount="20.00")]
    touches = {
        7: [t("A", "influence", date(2024, 1, 1)), t("B", "sourcing", date(2024, 2, 1))],
        3: [t("C", "technical", date(2024, 1, 1))],
    }
    results = credit_deals(deals, touches, AttributionConfig(model="first-touch"), TODAY)
    assert [r.ref for r in results] == [7, 3]
    assert results[0].credits == {"A": D("10.00")}
    assert results[1].credits == {"C": D("20.00")}
    # model= overrides the config: last-touch gives deal 7 to B.
    assert credit_deals(deals, touches, AttributionConfig(model="first-touch"), TODAY, "last-touch")[0].credits == {
        "B": D("10.00")
    }


def test_amount_finer_than_cents_is_split_in_its_own_unit():
    # 10.005 in units of 0.001: 10005 / 2 = 5002.5 each -> 5002 + 5002, the left unit to A (tie, by name).
    touches = [t("A", "influence", date(2024, 1, 1)), t("B", "influence", date(2024, 1, 2))]
    result = credit(won(amount="10.005"), touches, "linear")
    assert result.credits == {"A": D("5.003"), "B": D("5.002")}
    assert sum(result.credits.values()) == D("10.005")


def test_whole_amount_without_decimals_gets_cents():
    result = credit(won(amount="100"), [t("A", "influence", date(2024, 1, 1))], "linear")
    assert str(result.credits["A"]) == "100.00"
    assert str(result.unattributed) == "0.00"


def test_zero_amount_deal_has_no_credits():
    result = credit(won(amount="0"), [t("A", "sourcing", date(2024, 1, 1))], "role-split")
    assert result.credits == {}
    assert result.unattributed == D("0.00")
    assert result.influencers == frozenset({"A"})


def test_bad_deals_and_models_are_refused():
    with pytest.raises(InvalidArgument, match=r"unknown attribution model 'nope'.*role-split"):
        credit_deals([won()], {}, CONFIG, TODAY, "nope")
    with pytest.raises(InvalidArgument, match="more than once"):
        credit_deals([won(ref=1), won(ref=1)], {}, CONFIG, TODAY)
    with pytest.raises(InvalidArgument, match="negative"):
        credit_deals([won(amount="-1.00")], {}, CONFIG, TODAY)
    with pytest.raises(InvalidArgument, match="before it was created"):
        credit_deals([won(closed=date(2024, 1, 1), created=date(2024, 2, 1))], {}, CONFIG, TODAY)
    with pytest.raises(InvalidArgument, match="finite Decimal"):
        credit_deals([Deal(1, 1, 10.5, "USD", "won", date(2024, 1, 1), date(2024, 2, 1))], {}, CONFIG, TODAY)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="unknown outcome"):
        credit_deals([Deal(1, 1, D(1), "USD", "pending", date(2024, 1, 1), date(2024, 2, 1))], {}, CONFIG, TODAY)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="unknown role 'referral'; accepted roles: sourcing, co-sell, technical, influence"):
        credit_deals([won()], {1: [t("A", "referral", date(2024, 1, 1))]}, CONFIG, TODAY)
    assert issubclass(InvalidArgument, RequestError)


def test_deal_credit_to_dict():
    result = credit(
        won(),
        [t("B", "sourcing", date(2024, 1, 1)), t("A", "co-sell", date(2024, 1, 2))],
        "role-split",
        AttributionConfig(unassigned="keep"),
    )
    # keep: B sourcing 0.5 -> 50.00; A co-sell 0; technical + influence (0.5) kept.
    assert result.to_dict() == {
        "ref": 1,
        "credits": {"B": "50.00"},
        "unattributed": "50.00",
        "influencers": ["A", "B"],
        "sourcers": ["B"],
    }


# -- allocation ------------------------------------------------------------------------


def test_allocate_largest_remainder_and_tie_rules():
    # 0.02 in thirds: 2/3 cent each -> floors 0, 0, 0; two cents left, equal remainders -> by name: a, b.
    credits, rest = allocate(D("0.02"), {"c": 1, "b": 1, "a": 1}, 3)
    assert credits == {"a": D("0.01"), "b": D("0.01")}
    assert rest == D("0.00")
    # Unattributed loses ties to partners: 0.01, half to z, half unattributed -> z.
    credits, rest = allocate(D("0.01"), {"z": 1}, 2)
    assert credits == {"z": D("0.01")} and rest == D("0.00")
    # Larger remainder beats name: 1.00 as 1/7, 2/7, 4/7 of 100 cents = 14.29, 28.57, 57.14 ->
    # floors 14, 28, 57 (99), remainders 2/7, 4/7, 1/7 -> the cent goes to b (4/7).
    credits, rest = allocate(D("1.00"), {"a": 1, "b": 2, "c": 4}, 7)
    assert credits == {"a": D("0.14"), "b": D("0.29"), "c": D("0.57")}
    # 1.00 with 1/3 kept: a 2/3 = 66.67 cents, unattributed 33.33 -> floors 66, 33, the cent to a (2/3 > 1/3).
    credits, rest = allocate(D("1.00"), {"a": 2}, 3)
    assert credits == {"a": D("0.67")} and rest == D("0.33")


def test_allocate_checks_its_weights():
    with pytest.raises(ValueError):
        allocate(D("1.00"), {"a": 3}, 2)
    with pytest.raises(ValueError):
        allocate(D("1.00"), {"a": 3, "b": -1}, 2)
    with pytest.raises(ValueError):
        allocate(D("1.00"), {}, 0)
    with pytest.raises(InvalidArgument):
        allocate(D("-1.00"), {"a": 1}, 1)


# -- properties ------------------------------------------------------------------------

SPLIT = ["role-split", "first-touch", "last-touch", "linear", "time-decay", "position-based", "partner-weighted"]
START = date(2023, 1, 1)

touch_strategy = st.builds(
    Touch,
    partner=st.sampled_from(["Acme", "Beta", "beta", "Ceres", "Delta"]),
    role=st.sampled_from(["sourcing", "co-sell", "technical", "influence"]),
    day=st.integers(0, 700).map(lambda n: START + timedelta(days=n)),
)
amount_strategy = st.integers(0, 10**12).map(lambda cents: Decimal(cents).scaleb(-2))


@settings(max_examples=300, deadline=None)
@given(
    touches=st.lists(touch_strategy, max_size=12),
    amount=amount_strategy,
    model=st.sampled_from(SPLIT),
    unassigned=st.sampled_from(["redistribute", "keep"]),
    fallback=st.sampled_from(["last-touch", "first-touch", "linear", "time-decay", "role-split", "position-based"]),
    outcome=st.sampled_from(["won", "lost", "open"]),
    seed=st.integers(0, 2**32),
)
def test_split_models_sum_to_amount_non_negative_and_order_independent(
    touches, amount, model, unassigned, fallback, outcome, seed
):
    config = AttributionConfig(unassigned=unassigned, fallback_model=fallback, half_life_days=D("17.5"))
    deal = Deal(1, 1, amount, "USD", outcome, date(2022, 6, 1), date(2024, 1, 1))
    today = date(2023, 9, 1)
    result = credit(deal, touches, model, config, today)
    assert sum(result.credits.values(), D(0)) + result.unattributed == amount
    assert all(v > 0 and v.as_tuple().exponent == -2 for v in result.credits.values())
    assert result.unattributed >= 0
    assert set(result.credits) <= result.influencers
    assert result.sourcers <= result.influencers
    # Only role-split (directly or as partner-weighted's fallback) may leave money unattributed.
    if result.influencers and "role-split" not in (model, fallback if model == "partner-weighted" else None):
        assert result.unattributed == 0
    shuffled = list(touches)
    random.Random(seed).shuffle(shuffled)
    again = credit(deal, shuffled, model, config, today)
    assert again == result
    assert list(again.credits) == list(result.credits)


@settings(max_examples=100, deadline=None)
@given(touches=st.lists(touch_strategy, max_size=12), amount=amount_strategy)
def test_influenced_gives_each_influencer_the_amount(touches, amount):
    deal = Deal(1, 1, amount, "USD", "won", date(2022, 6, 1), date(2024, 1, 1))
    result = credit(deal, touches, "influenced")
    assert set(result.credits) == (result.influencers if amount else set())
    assert all(v == amount for v in result.credits.values())


@pytest.mark.parametrize(
    "amount, text",
    [
        ("6250", "6250.00"),
        ("6250.00", "6250.00"),
        ("12.5", "12.50"),
        ("0.125", "0.125"),
        ("0", "0.00"),
        ("0E-2", "0.00"),
        ("1E+3", "1000.00"),
        ("7E+1", "70.00"),
        ("100.000", "100.000"),
        ("0.00000001", "0.00000001"),
        ("1.5E-7", "0.00000015"),
    ],
)
def test_money_is_written_plainly_with_at_least_two_decimals(amount, text):
    assert money_str(Decimal(amount)) == text
