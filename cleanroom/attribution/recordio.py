"""Deal and touch records as they travel beside blinded points: fixed-size binary rows.

Every record is one little-endian packed row, keyed by the sender's pseudonymous
account label, so a chunk's records are a numpy structured array and the
coordinator checks a hundred thousand of them in a few vectorised comparisons
(no per-record parsing):

- vendor deal (``DEAL``, 30 bytes): account u32, ref u32, amount as an exact
  decimal (units i64, scale u8: amount = units / 10**scale), currency 3 ASCII
  letters, outcome u8 (index in OUTCOMES), deal type u8 (index in DEAL_TYPES),
  created and closed as i32 days since 1970-01-01 (closed ``NO_DATE`` for an
  open deal without an expected close date);
- partner touch (``TOUCH``, 9 bytes): account u32, role u8 (index in ROLES),
  day i32.

Decoding is strict: the coordinator stores nothing a model could choke on, and
a bad record is reported with its position.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from cleanroom.attribution.records import DEAL_TYPES, OUTCOMES, ROLES, Deal
from cleanroom.distinct import distinct_sorted

DEAL = np.dtype(
    [
        ("account", "<u4"),
        ("ref", "<u4"),
        ("units", "<i8"),
        ("scale", "u1"),
        ("currency", "S3"),
        ("outcome", "u1"),
        ("deal_type", "u1"),
        ("created", "<i4"),
        ("closed", "<i4"),
    ]
)
TOUCH = np.dtype([("account", "<u4"), ("role", "u1"), ("day", "<i4")])

EPOCH = date(1970, 1, 1)
NO_DATE = np.iinfo(np.int32).min
MAX_SCALE = 6  # decimal places an amount may have
# Python's date range, as days since the epoch.
FIRST_DAY, LAST_DAY = (date.min - EPOCH).days, (date.max - EPOCH).days
_OPEN = OUTCOMES.index("open")
_UPPER = np.arange(ord("A"), ord("Z") + 1, dtype=np.uint8)


class RecordError(ValueError):
    """A record the models could not use; ``index`` is its 0-based position in the blob."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(problem)
        self.index = index


def day_number(day: date) -> int:
    return (day - EPOCH).days


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=int(number))


def amount_parts(amount: Decimal) -> tuple[int, int]:
    """(units, scale) with amount == units / 10**scale, exactly; ValueError when it does not fit."""
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"amount {amount} must be a finite number >= 0")
    exponent = amount.as_tuple().exponent
    scale = max(0, -int(exponent))
    if scale > MAX_SCALE:
        raise ValueError(f"amount {amount} has more than {MAX_SCALE} decimal places")
    units = int(amount.scaleb(scale))
    if units >= 2**63:
        raise ValueError(f"amount {amount} is too large")
    return units, scale


def amount_of(units: int, scale: int) -> Decimal:
    return Decimal(int(units)).scaleb(-int(scale))


def encode_deals(deals: Sequence[Deal], refs: Sequence[int] | None = None, accounts: Sequence[int] | None = None) -> np.ndarray:
    """Deals -> DEAL rows (ValueError naming the deal's ref for an amount that cannot travel).

    ``refs`` and ``accounts``, when given, stand in for the deals' own (anything with the
    other Deal fields will then do, such as a reader's rows)."""
    refs = [d.ref for d in deals] if refs is None else refs
    parts = []
    for d, ref in zip(deals, refs, strict=True):
        try:
            parts.append(amount_parts(d.amount))
        except ValueError as exc:
            raise ValueError(f"deal {ref}: {exc}") from None
    rows = np.zeros(len(deals), dtype=DEAL)
    if not deals:
        return rows
    # Column by column: assigning a structured row at a time costs microseconds per deal.
    rows["account"] = [d.account for d in deals] if accounts is None else accounts
    rows["ref"] = refs
    rows["units"] = [units for units, _ in parts]
    rows["scale"] = [scale for _, scale in parts]
    rows["currency"] = [d.currency.encode("ascii") for d in deals]
    outcome, deal_type = {o: i for i, o in enumerate(OUTCOMES)}, {t: i for i, t in enumerate(DEAL_TYPES)}
    rows["outcome"] = [outcome[d.outcome] for d in deals]
    rows["deal_type"] = [deal_type[d.deal_type] for d in deals]
    rows["created"] = [day_number(d.created) for d in deals]
    rows["closed"] = [NO_DATE if d.closed is None else day_number(d.closed) for d in deals]
    return rows


def encode_touches(accounts: Sequence[int], roles: Sequence[str], days: Sequence[date]) -> np.ndarray:
    rows = np.zeros(len(accounts), dtype=TOUCH)
    role = {r: i for i, r in enumerate(ROLES)}
    rows["account"] = accounts
    rows["role"] = [role[r] for r in roles]
    rows["day"] = [day_number(d) for d in days]
    return rows


def _view(blob: bytes, dtype: np.dtype, what: str) -> np.ndarray:
    if len(blob) % dtype.itemsize:
        raise RecordError(
            len(blob) // dtype.itemsize, f"{len(blob)} bytes are not whole {what} records of {dtype.itemsize} bytes"
        )
    return np.frombuffer(blob, dtype=dtype)


def _first(bad: np.ndarray | np.bool_, problem: str) -> None:
    if bad.any():
        raise RecordError(int(np.argmax(bad)), problem)


def _check_days(days: np.ndarray, what: str) -> None:
    _first((days < FIRST_DAY) | (days > LAST_DAY), f"{what} must be a date (days since 1970-01-01 within {date.min}..{date.max})")


def check_deals(blob: bytes, total_accounts: int) -> np.ndarray:
    """The DEAL rows in ``blob``, or RecordError for the first unusable one."""
    rows = _view(blob, DEAL, "deal")
    _first(rows["account"] >= total_accounts, f"account label must be in 0..{total_accounts - 1}")
    _first(rows["units"] < 0, "amount must be >= 0")
    _first(rows["scale"] > MAX_SCALE, f"amount has more than {MAX_SCALE} decimal places")
    letters = np.ascontiguousarray(rows["currency"]).view(np.uint8).reshape(-1, 3)
    _first(~np.isin(letters, _UPPER).all(axis=1), "currency must be an ISO 4217 code such as 'USD'")
    _first(rows["outcome"] >= len(OUTCOMES), f"outcome must be one of {', '.join(OUTCOMES)}")
    _first(rows["deal_type"] >= len(DEAL_TYPES), f"deal type must be one of {', '.join(DEAL_TYPES)}")
    _check_days(rows["created"], "created")
    undated = rows["closed"] == NO_DATE
    _first(undated & (rows["outcome"] != _OPEN), "a won or lost deal needs its close date")
    _check_days(np.where(undated, 0, rows["closed"]), "closed")
    _first(~undated & (rows["closed"] < rows["created"]), "a deal cannot close before it was created")
    return rows


def check_touches(blob: bytes, total_accounts: int) -> np.ndarray:
    """The TOUCH rows in ``blob``, or RecordError for the first unusable one."""
    rows = _view(blob, TOUCH, "touch")
    _first(rows["account"] >= total_accounts, f"account label must be in 0..{total_accounts - 1}")
    _first(rows["role"] >= len(ROLES), f"role must be one of {', '.join(ROLES)}")
    _check_days(rows["day"], "date")
    return rows


def _days(numbers: np.ndarray) -> dict[int, date]:
    """One date object per distinct day number (deals and touches share few distinct days)."""
    return {int(n): day_of(n) for n in distinct_sorted(numbers)}


def decode_deals(rows: np.ndarray) -> list[Deal]:
    """Checked DEAL rows -> Deals (Decimal amounts, dates)."""
    days = _days(np.concatenate([rows["created"], rows["closed"][rows["closed"] != NO_DATE]]))
    days[int(NO_DATE)] = None  # type: ignore[assignment]
    currencies = {c: c.decode("ascii") for c in np.unique(rows["currency"]).tolist()}
    return [
        Deal(
            ref=ref,
            account=account,
            amount=amount_of(units, scale),
            currency=currencies[currency],
            outcome=OUTCOMES[outcome],
            created=days[created],
            closed=days[closed],
            deal_type=DEAL_TYPES[deal_type],
        )
        for account, ref, units, scale, currency, outcome, deal_type, created, closed in rows.tolist()
    ]


def rows_on(accounts: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row whose account is one of ``wanted``, once per time it is wanted: (index into
    ``wanted``, row index), in the order of ``wanted``. ``accounts`` must be sorted."""
    starts = np.searchsorted(accounts, wanted, side="left")
    counts = np.searchsorted(accounts, wanted, side="right") - starts
    owner = np.repeat(np.arange(len(wanted)), counts)
    return owner, np.arange(len(owner)) + np.repeat(starts - (np.cumsum(counts) - counts), counts)


def split_rows(rows: np.ndarray, parts: int) -> list[bytes]:
    """Spread records over ``parts`` chunks in order, as evenly as possible."""
    return [part.tobytes() for part in np.array_split(rows, parts)]
