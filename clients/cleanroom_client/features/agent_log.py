"""The agent's log: one JSON object per line on stdout, one line per action.

Always JSON lines, with or without a terminal: the agent runs unattended (systemd's journal, a log
shipper, ``jq``), and a line per action is what those read. Every line has ``ts`` (UTC, ISO 8601),
``action`` and ``outcome``; the rest depends on the action (agreement_id, run_id, duration_s, why).
People read progress bars and warnings on stderr, as with every other command.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from typing import IO, Any


class ActionLog:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, action: str, outcome: str, **fields: Any) -> dict[str, Any]:
        """Write one line; fields that are None or empty are left out. Returns what was written."""
        line: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "action": action,
            "outcome": outcome,
        }
        line.update({k: v for k, v in fields.items() if v is not None and v != "" and v != []})
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write(json.dumps(line, default=str) + "\n")
            stream.flush()
        return line
