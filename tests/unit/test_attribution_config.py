"""AttributionConfig: defaults, canonical dict, round trip, and every validation error.

Expected dicts are written out by hand.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cleanroom.attribution.config import MODELS, AttributionConfig
from cleanroom.errors import InvalidArgument, RequestError

D = Decimal

DEFAULT_DICT = {
    "model": "role-split",
    "lookback_days": 365,
    "role_weights": {"sourcing": "0.5", "co-sell": "0", "technical": "0.2", "influence": "0.3"},
    "unassigned": "redistribute",
    "half_life_days": "30",
    "fallback_model": "last-touch",
    "min_deals": 5,
    "partner_sees": ["credited_won", "credited_open", "deals_sourced", "deals_influenced", "win_rate_influenced"],
}


def test_models_are_the_eight_named_in_the_issue():
    assert MODELS == (
        "role-split",
        "first-touch",
        "last-touch",
        "linear",
        "time-decay",
        "position-based",
        "partner-weighted",
        "influenced",
    )


def test_defaults():
    c = AttributionConfig()
    assert c.model == "role-split"
    assert c.lookback_days == 365
    assert c.role_weights == {"sourcing": D("0.5"), "co-sell": D("0"), "technical": D("0.2"), "influence": D("0.3")}
    assert all(isinstance(w, Decimal) for w in c.role_weights.values())
    assert c.unassigned == "redistribute"
    assert c.half_life_days == D(30)
    assert c.fallback_model == "last-touch"
    assert c.min_deals == 5
    assert c.partner_sees == ("credited_won", "credited_open", "deals_sourced", "deals_influenced", "win_rate_influenced")


def test_to_dict_is_canonical_and_json_without_floats():
    d = AttributionConfig().to_dict()
    assert d == DEFAULT_DICT
    text = json.dumps(d, sort_keys=True)
    assert "0.5" in text and json.loads(text, parse_float=lambda s: pytest.fail(f"float {s} in config JSON")) == d


def test_from_dict_empty_is_default_and_round_trips():
    assert AttributionConfig.from_dict({}) == AttributionConfig()
    assert AttributionConfig.from_dict(DEFAULT_DICT) == AttributionConfig()


def test_round_trip_of_a_custom_config():
    c = AttributionConfig(
        model="time-decay",
        lookback_days=90,
        role_weights={"sourcing": D("0.40"), "co-sell": D("0.1"), "technical": D("0.25"), "influence": D("0.25")},
        unassigned="keep",
        half_life_days=D("7.50"),
        fallback_model="linear",
        min_deals=10,
        partner_sees=("deals_influenced", "credited_won"),
    )
    d = c.to_dict()
    assert d == {
        "model": "time-decay",
        "lookback_days": 90,
        "role_weights": {"sourcing": "0.4", "co-sell": "0.1", "technical": "0.25", "influence": "0.25"},
        "unassigned": "keep",
        "half_life_days": "7.5",
        "fallback_model": "linear",
        "min_deals": 10,
        "partner_sees": ["credited_won", "deals_influenced"],  # canonical order, not the given one
    }
    assert AttributionConfig.from_dict(d) == c
    assert AttributionConfig.from_dict(json.loads(json.dumps(d))).to_dict() == d
    assert hash(AttributionConfig.from_dict(d)) == hash(c)


def test_from_dict_accepts_numbers_and_fills_missing_roles_with_zero():
    c = AttributionConfig.from_dict(
        {"role_weights": {"sourcing": 0.6, "technical": 1, "influence": "0.30"}, "half_life_days": 14}
    )
    assert c.role_weights == {"sourcing": D("0.6"), "co-sell": D(0), "technical": D(1), "influence": D("0.3")}
    assert c.to_dict()["role_weights"] == {"sourcing": "0.6", "co-sell": "0", "technical": "1", "influence": "0.3"}
    assert c.half_life_days == D(14) and c.to_dict()["half_life_days"] == "14"


def test_large_whole_numbers_are_written_without_exponent():
    c = AttributionConfig(half_life_days=D("300"), role_weights={"sourcing": D("100")})
    assert c.to_dict()["half_life_days"] == "300"
    assert c.to_dict()["role_weights"]["sourcing"] == "100"


def test_with_model():
    base = AttributionConfig(lookback_days=100)
    linear = base.with_model("linear")
    assert linear.model == "linear" and linear.lookback_days == 100
    assert base.model == "role-split"
    with pytest.raises(InvalidArgument, match="unknown model 'bogus'; use one of: role-split, first-touch"):
        base.with_model("bogus")


def test_equal_configs_are_equal_and_hash_alike():
    a = AttributionConfig(role_weights={"sourcing": D("0.50"), "technical": D("0.2"), "influence": D("0.3")})
    b = AttributionConfig()
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"modle": "linear"}, "unknown setting.*modle.*accepted: model, lookback_days"),
        (
            {"model": "u-shaped"},
            "unknown model 'u-shaped'; use one of: role-split, first-touch, last-touch, linear, time-decay, position-based, partner-weighted, influenced",
        ),
        ({"model": 3}, "model must be a string"),
        ({"lookback_days": 0}, "lookback_days must be a whole number >= 1"),
        ({"lookback_days": "365"}, "lookback_days must be a whole number"),
        ({"lookback_days": True}, "lookback_days must be a whole number"),
        ({"role_weights": {"sourcing": "-0.1", "technical": "1"}}, "role weights must be >= 0; negative: sourcing"),
        ({"role_weights": {"sourcing": "0", "technical": 0}}, "must not all be 0"),
        ({"role_weights": {}}, "must not all be 0"),
        (
            {"role_weights": {"referral": "0.5"}},
            "unknown role.*referral; accepted roles: sourcing, co-sell, technical, influence",
        ),
        ({"role_weights": {"sourcing": "half"}}, r"role_weights\['sourcing'\] must be a decimal number"),
        ({"role_weights": {"sourcing": "NaN"}}, "must be a finite number"),
        ({"role_weights": {"sourcing": True}}, "must be a number"),
        ({"role_weights": {"sourcing": None}}, "must be a decimal number"),
        ({"role_weights": ["sourcing"]}, "role_weights must be an object"),
        ({"unassigned": "drop"}, "unassigned must be one of: redistribute, keep"),
        ({"half_life_days": 0}, "half_life_days must be > 0"),
        ({"half_life_days": "-3"}, "half_life_days must be > 0"),
        (
            {"fallback_model": "partner-weighted"},
            "fallback_model must be one of: role-split, first-touch, last-touch, linear, time-decay, position-based;",
        ),
        ({"fallback_model": "influenced"}, "fallback_model must be one of"),
        ({"min_deals": 0}, "min_deals must be a whole number >= 1"),
        ({"partner_sees": ["credited_won", "deals"]}, "unknown field.*deals; accepted: credited_won, credited_open"),
        ({"partner_sees": ["credited_won", "credited_won"]}, "more than once"),
        ({"partner_sees": "credited_won"}, "partner_sees must be a list"),
    ],
)
def test_validation_errors(settings, message):
    with pytest.raises(InvalidArgument, match=message) as info:
        AttributionConfig.from_dict(settings)
    assert str(info.value).startswith("attribution: ")
    assert isinstance(info.value, RequestError)


def test_settings_must_be_an_object():
    with pytest.raises(InvalidArgument, match="must be a JSON object"):
        AttributionConfig.from_dict(["model"])


def test_direct_construction_validates_too():
    with pytest.raises(InvalidArgument, match="unknown model"):
        AttributionConfig(model="nope")
    with pytest.raises(InvalidArgument, match="negative"):
        AttributionConfig(role_weights={"sourcing": D(-1), "influence": D(2)})


def test_empty_partner_sees_is_allowed():
    c = AttributionConfig.from_dict({"partner_sees": []})
    assert c.partner_sees == ()
    assert c.to_dict()["partner_sees"] == []
