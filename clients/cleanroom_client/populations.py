"""CRM stages -> populations (customer, prospect, opportunity, or custom ones)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cleanroom.errors import InputError

DEFAULT_STAGES: dict[str, str] = {
    # Salesforce account Type
    "customer": "customer",
    "customer - direct": "customer",
    "customer - channel": "customer",
    "prospect": "prospect",
    "opportunity": "opportunity",
    "open opportunity": "opportunity",
    # HubSpot lifecycle stages (internal names and labels)
    "evangelist": "customer",
    "lead": "prospect",
    "subscriber": "prospect",
    "marketingqualifiedlead": "prospect",
    "marketing qualified lead": "prospect",
    "salesqualifiedlead": "prospect",
    "sales qualified lead": "prospect",
}
_POPULATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _norm(stage: str) -> str:
    return re.sub(r"\s+", " ", stage.strip().lower())


class StageMap:
    def __init__(self, extra: dict[str, str] | None = None) -> None:
        self.stages = dict(DEFAULT_STAGES)
        for stage, population in (extra or {}).items():
            self.stages[_norm(stage)] = population

    @classmethod
    def load(cls, path: Path | None) -> "StageMap":
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: population map file does not exist") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: population map is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise InputError(f'{path}: population map must be a JSON object {{"stage value": "population"}}')
        bad = [v for v in data.values() if not _POPULATION.match(v)]
        if bad:
            raise InputError(f"{path}: population names must be lower-case words like 'customer'; got {bad[0]!r}")
        return cls(data)

    def population(self, stage: str | None) -> str | None:
        return self.stages.get(_norm(stage or ""))

    def accepted(self) -> list[str]:
        return sorted(self.stages)
