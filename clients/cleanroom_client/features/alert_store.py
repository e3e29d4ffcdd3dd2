"""The alert settings a profile keeps (``alerts.json``, 0600): receivers with their signing secrets,
deliveries still pending, and the accounts last revealed per agreement (to tell what is new)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cleanroom.crypto.keyfiles import write_private
from cleanroom.errors import InputError
from cleanroom_client.features.alert_messages import FORMATS
from cleanroom_client.features.alert_signing import new_secret

ALERTS_FILE = "alerts.json"


def check_url(url: str) -> str:
    """An http(s) URL with a host, or InputError saying what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"alert receiver URL {url!r}: give an http:// or https:// URL with a host")
    return url


@dataclass
class AlertStore:
    path: Path
    receivers: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    revealed: dict[str, dict[str, Any]] = field(default_factory=dict)  # agreement -> revealed_snapshot

    @classmethod
    def of(cls, profile_dir: Path) -> AlertStore:
        path = Path(profile_dir) / ALERTS_FILE
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON ({exc}); fix or remove it, then add the receivers again") from None
        return cls(path, data.get("receivers", []), data.get("pending", []), data.get("revealed", {}))

    def save(self) -> None:
        data = {"receivers": self.receivers, "pending": self.pending, "revealed": self.revealed}
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8"))

    def add(self, url: str, fmt: str) -> dict[str, Any]:
        """A new receiver (its secret is in the returned record: show it once)."""
        if fmt not in FORMATS:
            raise InputError(f"alert format {fmt!r}: use one of {', '.join(FORMATS)}")
        receiver = {
            "id": "alr_" + secrets.token_hex(6),
            "url": check_url(url),
            "format": fmt,
            "secret": new_secret(),
            "added_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        self.receivers.append(receiver)
        self.save()
        return receiver

    def remove(self, receiver_id: str) -> dict[str, Any]:
        """Remove a receiver and its pending deliveries; InputError naming the known ids if there is no such one."""
        found = next((r for r in self.receivers if r["id"] == receiver_id), None)
        if found is None:
            known = ", ".join(r["id"] for r in self.receivers) or "none"
            raise InputError(f"no alert receiver {receiver_id!r} in {self.path} (receivers: {known})")
        self.receivers.remove(found)
        self.pending = [p for p in self.pending if p["receiver_id"] != receiver_id]
        self.save()
        return found

    def receiver(self, receiver_id: str) -> dict[str, Any] | None:
        return next((r for r in self.receivers if r["id"] == receiver_id), None)
