"""JSON mapping files ({"CRM value": "our value"}) for stages, types and populations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from cleanroom.errors import InputError


def load_map(value: Mapping[str, str] | Path | str | None, what: str) -> tuple[dict[str, str], str]:
    """A mapping as given, or the JSON object in a file; (entries, where they came from)."""
    if value is None:
        return {}, ""
    if isinstance(value, Mapping):
        data: object = dict(value)
        origin = f"{what} map"
    else:
        origin = str(value)
        try:
            data = json.loads(Path(value).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{value}: {what} map file does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{value}: {what} map cannot be read: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{value}: {what} map is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise InputError(f'{origin}: a {what} map must be a JSON object {{"{what} value": "..."}}')
    return data, origin
