"""Deal and touch records as they travel beside blinded points (JSON lines).

One record per line, keyed by the sender's pseudonymous account label:

- vendor deal:   ``[account, ref, "amount", "currency", outcome, "created", "closed"|null, deal_type]``
- partner touch: ``[account, role, "date"]``

Decoding is strict: the coordinator stores nothing a model could choke on,
and a bad line is reported with its position.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation

from cleanroom.attribution.records import DEAL_TYPES, OUTCOMES, ROLES, Deal
from cleanroom.errors import InvalidArgument

CURRENCY_LEN = 3


def _line(values: list) -> bytes:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def encode_deal(deal: Deal) -> bytes:
    return _line([
        deal.account, deal.ref, str(deal.amount), deal.currency, deal.outcome,
        deal.created.isoformat(), deal.closed.isoformat() if deal.closed else None, deal.deal_type,
    ])


def encode_touch(account: int, role: str, day: date) -> bytes:
    return _line([account, role, day.isoformat()])


def _date(value: object, what: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO date string")
    return date.fromisoformat(value)


def _label(value: object, total_accounts: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < total_accounts:
        raise ValueError(f"account label must be an integer in 0..{total_accounts - 1}")
    return value


def decode_deal(values: list, total_accounts: int) -> Deal:
    if not isinstance(values, list) or len(values) != 8:
        raise ValueError("a deal record has 8 fields")
    account, ref, amount, currency, outcome, created, closed, deal_type = values
    if not isinstance(ref, int) or isinstance(ref, bool) or ref < 0:
        raise ValueError("deal ref must be a non-negative integer")
    if not isinstance(amount, str):
        raise ValueError("amount must be a decimal string")
    try:
        money = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"amount {amount!r} is not a decimal number") from None
    if not money.is_finite() or money < 0:
        raise ValueError(f"amount {amount!r} must be a finite number >= 0")
    if not (isinstance(currency, str) and len(currency) == CURRENCY_LEN and currency.isalpha() and currency.isupper()):
        raise ValueError("currency must be an ISO 4217 code such as 'USD'")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if deal_type not in DEAL_TYPES:
        raise ValueError(f"deal type must be one of {', '.join(DEAL_TYPES)}")
    opened = _date(created, "created")
    shut = None if closed is None else _date(closed, "closed")
    if outcome != "open" and shut is None:
        raise ValueError("a won or lost deal needs its close date")
    if shut is not None and shut < opened:
        raise ValueError("a deal cannot close before it was created")
    return Deal(ref=ref, account=_label(account, total_accounts), amount=money, currency=currency,
                outcome=outcome, created=opened, closed=shut, deal_type=deal_type)


def decode_touch(values: list, total_accounts: int) -> tuple[int, str, date]:
    if not isinstance(values, list) or len(values) != 3:
        raise ValueError("a touch record has 3 fields")
    account, role, day = values
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return _label(account, total_accounts), role, _date(day, "date")


def parse_lines(blob: bytes, where: str) -> list[list]:
    """Split a records blob into JSON arrays; errors name ``where`` and the line."""
    out = []
    for n, line in enumerate(blob.split(b"\n"), 1):
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InvalidArgument(f"{where}, record line {n}: not a JSON array") from None
    return out


def split_records(lines: Iterable[bytes], parts: int) -> list[bytes]:
    """Spread encoded lines over ``parts`` chunks in order, as evenly as possible."""
    lines = list(lines)
    size, extra = divmod(len(lines), parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + size + (1 if i < extra else 0)
        out.append(b"".join(lines[start:stop]))
        start = stop
    return out
