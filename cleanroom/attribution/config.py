"""Attribution parameters as agreed in an agreement's terms.

``AttributionConfig`` is immutable and validated on construction, whether built
directly or parsed with ``from_dict``. ``to_dict`` gives the canonical,
JSON-able form that goes into the terms (Decimals as plain strings such as
``"0.5"``, never floats), and ``from_dict(c.to_dict()) == c`` for every valid
config.

Role weights are relative: the model divides them by their total, so
``{"sourcing": 5, "technical": 2, "influence": 3}`` means the same as the
defaults. When ``role_weights`` is given it is the complete table: roles it
does not list weigh 0 (they are not merged with the defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, NoReturn

from cleanroom.attribution.records import ROLES
from cleanroom.errors import InvalidArgument

MODELS: tuple[str, ...] = (
    "role-split",
    "first-touch",
    "last-touch",
    "linear",
    "time-decay",
    "position-based",
    "partner-weighted",
    "influenced",
)
# Models that split a deal's amount (credits sum to the amount).
SPLIT_MODELS: tuple[str, ...] = tuple(m for m in MODELS if m != "influenced")
# What partner-weighted may fall back to: a split model, and not itself.
FALLBACK_MODELS: tuple[str, ...] = tuple(m for m in SPLIT_MODELS if m != "partner-weighted")
UNASSIGNED: tuple[str, ...] = ("redistribute", "keep")
# The per-partner aggregates a partner may be shown (the release policy picks from these).
PARTNER_FIELDS: tuple[str, ...] = (
    "credited_won",
    "credited_open",
    "deals_sourced",
    "deals_influenced",
    "win_rate_influenced",
)

DEFAULT_ROLE_WEIGHTS: Mapping[str, Decimal] = {
    "sourcing": Decimal("0.5"),
    "co-sell": Decimal("0"),
    "technical": Decimal("0.2"),
    "influence": Decimal("0.3"),
}

_KEYS = (
    "model",
    "lookback_days",
    "role_weights",
    "unassigned",
    "half_life_days",
    "fallback_model",
    "min_deals",
    "partner_sees",
)


def _fail(message: str) -> NoReturn:
    raise InvalidArgument(f"attribution: {message}")


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def parse_decimal(value: Any, what: str, context: str = "attribution") -> Decimal:
    """A finite Decimal from a Decimal, int, decimal string or float (read via its shortest repr).

    Errors are InvalidArgument prefixed with ``context``.
    """

    def fail(message: str) -> None:
        raise InvalidArgument(f"{context}: {what} {message}")

    if isinstance(value, bool):
        fail(f'must be a number such as "0.5", not {value!r}')
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            fail(f'must be a decimal number such as "0.5", got {value!r}')
    else:
        fail(f'must be a decimal number such as "0.5", got {type(value).__name__}')
    if not result.is_finite():
        fail(f"must be a finite number, got {value!r}")
    return result


def decimal_str(value: Decimal) -> str:
    """Canonical text of a Decimal: no exponent, no trailing zeros ("0.5", "30", "0")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def parse_int(value: Any, what: str, minimum: int, context: str = "attribution") -> int:
    """A whole number (not a bool) >= ``minimum``; errors are InvalidArgument prefixed with ``context``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{context}: {what} must be a whole number >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class AttributionConfig:
    """Model and parameters of partner attribution for one agreement.

    - ``model``: one of ``MODELS``.
    - ``lookback_days``: a touch counts when it is at most this many days before
      the deal's reference date (and not after it).
    - ``role_weights``: relative weight per role (role-split); every role of
      ``ROLES`` is present after construction, missing ones weigh 0.
    - ``unassigned``: ``"redistribute"`` the weight of roles nobody holds on a
      deal over the roles present, or ``"keep"`` it as unattributed.
    - ``half_life_days``: time-decay half-life (> 0).
    - ``fallback_model``: what partner-weighted uses on deals without a sourcing touch.
    - ``min_deals``: k of the release policy; a partner's aggregates are shown
      only when they rest on at least k deals.
    - ``partner_sees``: which of ``PARTNER_FIELDS`` a partner may be shown.
    """

    model: str = "role-split"
    lookback_days: int = 365
    role_weights: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_ROLE_WEIGHTS))
    unassigned: str = "redistribute"
    half_life_days: Decimal = Decimal(30)
    fallback_model: str = "last-touch"
    min_deals: int = 5
    partner_sees: tuple[str, ...] = PARTNER_FIELDS

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            _fail(f"unknown model {self.model!r}; use one of: {_choices(MODELS)}")
        parse_int(self.lookback_days, "lookback_days", 1)
        weights = self._normalised_weights(self.role_weights)
        object.__setattr__(self, "role_weights", weights)
        if self.unassigned not in UNASSIGNED:
            _fail(f"unassigned must be one of: {_choices(UNASSIGNED)}; got {self.unassigned!r}")
        half_life = parse_decimal(self.half_life_days, "half_life_days")
        if half_life <= 0:
            _fail(f"half_life_days must be > 0, got {decimal_str(half_life)}")
        object.__setattr__(self, "half_life_days", half_life)
        if self.fallback_model not in FALLBACK_MODELS:
            _fail(f"fallback_model must be one of: {_choices(FALLBACK_MODELS)}; got {self.fallback_model!r}")
        parse_int(self.min_deals, "min_deals", 1)
        object.__setattr__(self, "partner_sees", self._normalised_sees(self.partner_sees))

    @staticmethod
    def _normalised_weights(given: Any) -> dict[str, Decimal]:
        if not isinstance(given, Mapping):
            _fail('role_weights must be an object mapping roles to weights, e.g. {"sourcing": "0.5"}')
        unknown = sorted(str(r) for r in given if r not in ROLES)
        if unknown:
            _fail(f"unknown role(s) in role_weights: {', '.join(unknown)}; accepted roles: {_choices(ROLES)}")
        weights = {role: parse_decimal(given.get(role, 0), f"role_weights[{role!r}]") for role in ROLES}
        negative = [role for role, w in weights.items() if w < 0]
        if negative:
            _fail(f"role weights must be >= 0; negative: {', '.join(negative)}")
        if sum(weights.values()) <= 0:
            _fail("role weights must not all be 0; give at least one role a positive weight")
        return weights

    @staticmethod
    def _normalised_sees(given: Any) -> tuple[str, ...]:
        if isinstance(given, (str, bytes)) or not isinstance(given, (list, tuple)):
            _fail(f"partner_sees must be a list drawn from: {_choices(PARTNER_FIELDS)}")
        unknown = [str(f) for f in given if f not in PARTNER_FIELDS]
        if unknown:
            _fail(f"unknown field(s) in partner_sees: {', '.join(unknown)}; accepted: {_choices(PARTNER_FIELDS)}")
        if len(set(given)) != len(given):
            _fail("partner_sees lists a field more than once; list each field once")
        return tuple(f for f in PARTNER_FIELDS if f in given)

    def __hash__(self) -> int:
        return hash(
            (
                self.model,
                self.lookback_days,
                tuple(self.role_weights.items()),
                self.unassigned,
                self.half_life_days,
                self.fallback_model,
                self.min_deals,
                self.partner_sees,
            )
        )

    @cached_property
    def role_units(self) -> dict[str, int]:
        """The role weights scaled by one power of ten to exact integers ("0.5", "0.25" -> 50, 25)."""
        exponent = min(min(int(w.as_tuple().exponent) for w in self.role_weights.values()), 0)
        return {role: int(w.scaleb(-exponent)) for role, w in self.role_weights.items()}

    def with_model(self, name: str) -> AttributionConfig:
        """The same parameters with another model (validated)."""
        return replace(self, model=name)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-able form: every key present, Decimals as plain strings."""
        return {
            "model": self.model,
            "lookback_days": self.lookback_days,
            "role_weights": {role: decimal_str(w) for role, w in self.role_weights.items()},
            "unassigned": self.unassigned,
            "half_life_days": decimal_str(self.half_life_days),
            "fallback_model": self.fallback_model,
            "min_deals": self.min_deals,
            "partner_sees": list(self.partner_sees),
        }

    @classmethod
    def from_dict(cls, d: Any) -> AttributionConfig:
        """Parse and validate; keys left out take their defaults, unknown keys are refused."""
        if not isinstance(d, Mapping):
            _fail("settings must be a JSON object")
        unknown = sorted(str(k) for k in d if k not in _KEYS)
        if unknown:
            _fail(f"unknown setting(s): {', '.join(unknown)}; accepted: {_choices(_KEYS)}")
        for key in ("model", "unassigned", "fallback_model"):
            if key in d and not isinstance(d[key], str):
                _fail(f"{key} must be a string")
        if "partner_sees" in d and not isinstance(d["partner_sees"], list):
            _fail(f"partner_sees must be a list drawn from: {_choices(PARTNER_FIELDS)}")
        return cls(**{k: d[k] for k in _KEYS if k in d})
