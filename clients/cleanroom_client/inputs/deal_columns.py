"""Which column of a deals file plays which part (deal id, amount, stage, dates, the account's keys).

The columns are recognised with the header vocabulary every file kind shares
(headers.py); explicit column names always win. deals.py reads the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cleanroom_client.inputs.headers import (
    AMOUNT_HEADERS,
    CLOSE_HEADERS,
    CREATED_HEADERS,
    CURRENCY_HEADERS,
    DEAL_NAME_HEADERS,
    ID_HEADERS,
    STAGE_HEADERS,
    TYPE_HEADERS,
    column_name,
    find_column,
    require_column,
)
from cleanroom_client.inputs.rowkeys import KeyColumns, account_columns


@dataclass(frozen=True)
class DealColumns:
    """Which column (name as in the file) plays which part; None when absent."""

    keys: tuple[str, ...]
    account_name: str | None
    deal_id: str
    deal_name: str | None
    amount: str
    currency: str | None
    stage: str
    created: str
    close: str
    type: str | None
    country: str | None

    def describe(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


# The deal's own columns: (field, header synonyms, role in messages, the option that names it).
_REQUIRED = (
    ("deal_id", ID_HEADERS, "deal id", "id-column"),
    ("amount", AMOUNT_HEADERS, "amount", "amount-column"),
    ("stage", STAGE_HEADERS, "stage", "stage-column"),
    ("created", CREATED_HEADERS, "created date", "created-column"),
    ("close", CLOSE_HEADERS, "close date", "close-column"),
)
_OPTIONAL = (
    ("currency", CURRENCY_HEADERS, "currency"),
    ("type", TYPE_HEADERS, "deal type"),
    ("deal_name", DEAL_NAME_HEADERS, "deal name"),
)


@dataclass(frozen=True)
class DealWhere:
    """Column indexes of one deals file."""

    deal_id: int
    amount: int
    stage: int
    created: int
    close: int
    currency: int | None
    type: int | None
    deal_name: int | None
    account: KeyColumns

    def columns(self) -> DealColumns:
        names = self.account.names

        def pick(index: int | None) -> str | None:
            return column_name(names, index)

        return DealColumns(
            keys=tuple(names[i] for i in self.account.keys),
            account_name=pick(self.account.name),
            deal_id=names[self.deal_id],
            deal_name=pick(self.deal_name),
            amount=names[self.amount],
            currency=pick(self.currency),
            stage=names[self.stage],
            created=names[self.created],
            close=names[self.close],
            type=pick(self.type),
            country=pick(self.account.country),
        )


def locate_deal_columns(names: list[str], source: str, wanted: Mapping[str, str | None], name_key: bool) -> DealWhere:
    """Every column's index (explicit names in ``wanted`` win); MissingColumn for a required one absent."""
    required = {
        field: require_column(names, source, wanted.get(field), headers, role, option)
        for field, headers, role, option in _REQUIRED
    }
    optional = {field: find_column(names, source, wanted.get(field), headers, role) for field, headers, role in _OPTIONAL}
    account = account_columns(
        names,
        source,
        key_column=wanted.get("key"),
        name_column=wanted.get("name"),
        country_column=wanted.get("country"),
        name_key=name_key,
    )
    return DealWhere(
        required["deal_id"],
        required["amount"],
        required["stage"],
        required["created"],
        required["close"],
        optional["currency"],
        optional["type"],
        optional["deal_name"],
        account,
    )
