"""CRM stages -> populations (customer, prospect, opportunity, or custom ones).

Stage values are compared with case, spaces and punctuation ignored, so
HubSpot's internal "marketingqualifiedlead" and its label "Marketing Qualified
Lead" are one stage, as are "Customer - Direct" and "customer direct".

An opportunity or deal export (columns.ColumnMap.deal_stages) is read by its
deal stage instead: the account of a won deal is a customer, of an open deal
an opportunity, of a lost deal a prospect (``DEAL_OUTCOME_POPULATIONS``); an
account with several deals is in each of their populations.
"""

from __future__ import annotations

import re
from pathlib import Path

from cleanroom.errors import InputError
from cleanroom_client.inputs.codes import STAGES, Lookup
from cleanroom_client.inputs.headers import norm
from cleanroom_client.inputs.mapfile import load_map

# Stage label (as CRMs show it) -> population.
DEFAULT_STAGES: dict[str, str] = {
    # Salesforce account Type
    "Customer": "customer",
    "Customer - Direct": "customer",
    "Customer - Channel": "customer",
    "Prospect": "prospect",
    "Opportunity": "opportunity",
    "Open Opportunity": "opportunity",
    # HubSpot lifecycle stages ("customer", "opportunity" are shared with the above)
    "Evangelist": "customer",
    "Lead": "prospect",
    "Subscriber": "prospect",
    "Marketing Qualified Lead": "prospect",
    "Sales Qualified Lead": "prospect",
}
# A deal's outcome (codes.STAGES: won / lost / open) -> the population of its account.
DEAL_OUTCOME_POPULATIONS: dict[str, str] = {"won": "customer", "open": "opportunity", "lost": "prospect"}
# An opportunity or deal export read as accounts: each deal stage -> the population of its account.
DEAL_STAGE_POPULATIONS: dict[str, str] = {stage: DEAL_OUTCOME_POPULATIONS[outcome] for stage, outcome in STAGES.items()}
_POPULATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def valid_population(name: str) -> bool:
    """Population names are short lower-case words: they travel in agreements and views."""
    return bool(_POPULATION.fullmatch(name))


class StageMap(Lookup):
    """Stage value -> population: the defaults, then a mapping file's entries on top."""

    def __init__(self, extra: dict[str, str] | None = None, deal_stages: bool = False) -> None:
        defaults = DEAL_STAGE_POPULATIONS if deal_stages else DEFAULT_STAGES
        super().__init__({**defaults, **(extra or {})})

    @classmethod
    def load(cls, path: Path | None, deal_stages: bool = False) -> StageMap:
        """The defaults (account stages, or deal stages) plus the JSON object {"stage value": "population"} in ``path``."""
        if path is None:
            return cls(deal_stages=deal_stages)
        data, _ = load_map(Path(path), "population")
        bad = [v for v in data.values() if not valid_population(v)]
        if bad:
            raise InputError(f"{path}: population names must be lower-case words like 'customer'; got {bad[0]!r}")
        empty = [k for k in data if not norm(k)]
        if empty:
            raise InputError(f"{path}: population map has an empty stage value {empty[0]!r}")
        return cls(data, deal_stages)

    def population(self, stage: str | None) -> str | None:
        """The population for ``stage``, or None when the stage is empty or unmapped."""
        return self.get(stage)

    def accepted(self) -> list[str]:
        """The stage values that map to a population, as labelled in the defaults or the mapping file."""
        return self.labels()

    def unmapped_reason(self, stage: str | None, column: str) -> str:
        """Why a row is rejected: names the value, the column and the accepted values."""
        shown = "empty stage" if not (stage or "").strip() else f"unmapped stage {(stage or '').strip()!r}"
        return f"{shown} in column {column!r}; accepted: {', '.join(self.accepted())} (add it with --population-map)"
