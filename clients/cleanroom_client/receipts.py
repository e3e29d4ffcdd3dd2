"""The client's own record of what left this machine, countersigned by the coordinator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict


class ReceiptLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record_upload(self, receipt, chunk_digests: list[str]) -> None:
        entry = {
            "type": "upload",
            "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "sent_chunk_digests": chunk_digests,
            "receipt": MessageToDict(receipt, preserving_proto_field_name=True, always_print_fields_with_no_presence=True),
        }
        self._append(entry)

    def record_release(self, release: dict[str, Any]) -> None:
        self._append({"type": "release", "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "release": release})

    def _append(self, entry: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
