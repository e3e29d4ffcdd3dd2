"""The header vocabulary of CRM exports: one table of synonyms per field, one normalisation.

Accounts, deals and touches files are read with the same tables, so a column
means the same thing in the three kinds of file ("Account Website" is the
account's website wherever it appears). Salesforce reports ("Website",
"Account Name", "Type", "Billing Country", "Opportunity ID") and HubSpot
exports ("Company Domain Name", "Website URL", "Company name", "Lifecycle
Stage", "Country/Region", "Record ID") are recognised. Synonyms are listed in
precedence order; explicit column names (``--key-column`` ...) always win.

Headers and coded cell values (stages, types, roles) are compared with case,
spaces and punctuation ignored (``norm``): "Account: Website" ==
"account_website" == "Account Website".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cleanroom.errors import InputError

# Domain-like columns in precedence order: per row, the first non-empty usable value wins.
# A curated domain (HubSpot "Company Domain Name", a generic "Domain") beats a
# website URL, which beats a person's e-mail address (often free-mail).
# (One spelling per synonym: "Account: Website" and "E-mail" are "Account Website" and "Email" once normalised.)
KEY_HEADERS = (
    "Company Domain Name",
    "Account Domain",
    "Domain",
    "Account Website",
    "Website",
    "Website URL",
    "Company Website",
    "URL",
    "Email",
    "Email Address",
    "Contact Email",
)
NAME_HEADERS = (
    "Account Name",
    "Account: Account Name",
    "Associated Company",
    "Associated Company (Primary)",
    "Company name",
    "Company",
    "Account",
    "Name",
    "Organization",
    "Organisation",
)
COUNTRY_HEADERS = ("Billing Country", "Account Billing Country", "Country/Region", "Country", "Shipping Country", "HQ Country")
# An account's CRM stage or type (accounts files): -> its population.
POPULATION_HEADERS = ("Type", "Lifecycle Stage", "Account Type", "Stage", "Population", "Segment")

# Deals.
ID_HEADERS = ("Opportunity ID", "Opportunity ID 18", "Deal ID", "Record ID", "ID")
DEAL_NAME_HEADERS = ("Opportunity Name", "Deal Name")
AMOUNT_HEADERS = ("Amount", "Opportunity Amount", "Deal Amount", "Amount (converted)", "Amount in company currency")
CURRENCY_HEADERS = (
    "Amount Currency",
    "Opportunity Currency",
    "Deal currency code",
    "Currency",
    "Currency Code",
    "Currency ISO Code",
)
STAGE_HEADERS = ("Stage", "Opportunity Stage", "Stage Name", "Deal Stage")
CREATED_HEADERS = ("Created Date", "Create Date", "Opportunity Created Date", "Created", "Created On", "Date Created")
CLOSE_HEADERS = ("Close Date", "Closed Date", "Expected Close Date", "Close")
TYPE_HEADERS = ("Type", "Opportunity Type", "Deal Type")
# Headers only an opportunity report or deal export has: read as an accounts file, one row is a deal, whose
# "Type" is the deal's (New Business, Renewal), so its accounts take their population from the deal stage.
DEAL_MARKERS = ("Opportunity ID", "Opportunity Name", "Deal ID", "Record ID", "Deal Name", "Close Date")

# Touches.
ROLE_HEADERS = ("Role", "Partner Role", "Touch Type", "Touchpoint Type", "Touch Role", "Partner Touch Type")
DATE_HEADERS = ("Date", "Touch Date", "Activity Date", "Touchpoint Date", "Touched On", "Timestamp")


def norm(text: str | None) -> str:
    """Case, spaces and punctuation do not matter in headers and coded values.

    Looser than the terms' ``column_norm`` on purpose: this finds key and stage columns under any
    spelling, while that one picks the columns whose values are shared.
    """
    return re.sub(r"[\W_]+", "", (text or "").casefold())


class MissingColumn(InputError):
    """A required column is absent, or an explicitly named column does not exist."""


def named_column(columns: Sequence[str], source: str, wanted: str, role: str) -> int:
    """Index of the column the user named (exact up to case, spaces and punctuation); MissingColumn if absent."""
    normalised = [norm(c) for c in columns]
    if not norm(wanted) or norm(wanted) not in normalised:
        raise MissingColumn(f"{source}: no column {wanted!r} for the {role}; columns found: {', '.join(columns)}")
    return normalised.index(norm(wanted))


def find_column(columns: Sequence[str], source: str, wanted: str | None, candidates: Sequence[str], role: str) -> int | None:
    """Index of the column for ``role``: the explicit ``wanted`` name, else the first candidate present, else None."""
    if wanted is not None:
        return named_column(columns, source, wanted, role)
    normalised = [norm(c) for c in columns]
    return next((normalised.index(c) for c in map(norm, candidates) if c in normalised), None)


def require_column(
    columns: Sequence[str], source: str, wanted: str | None, candidates: Sequence[str], role: str, option: str
) -> int:
    """As find_column, for a column the file cannot do without: MissingColumn names the ``--option`` that picks it."""
    index = find_column(columns, source, wanted, candidates, role)
    if index is None:
        raise MissingColumn(
            f"{source}: no {role} column (looked for {looked_for(candidates)}); "
            f"columns found: {', '.join(columns)}; name it with --{option}"
        )
    return index


def key_columns(columns: Sequence[str], source: str, wanted: str | None, role: str = "website/domain") -> tuple[int, ...]:
    """The domain-like columns present, in precedence order (or just the explicit one)."""
    if wanted is not None:
        return (named_column(columns, source, wanted, role),)
    normalised = [norm(c) for c in columns]
    return tuple(dict.fromkeys(normalised.index(c) for c in map(norm, KEY_HEADERS) if c in normalised))


def has_any(columns: Sequence[str], candidates: Sequence[str]) -> bool:
    """Whether any of ``candidates`` is a column."""
    normalised = {norm(c) for c in columns}
    return any(norm(c) in normalised for c in candidates)


def column_name(columns: Sequence[str], index: int | None) -> str | None:
    """The name of column ``index`` as written in the file; None for a column that is absent."""
    return None if index is None else columns[index]


def looked_for(candidates: Sequence[str], shown: int = 6) -> str:
    """The first candidates, quoted, for a message saying what was looked for."""
    return ", ".join(repr(c) for c in candidates[:shown]) + (", ..." if len(candidates) > shown else "")
