"""A long-running process's own log lines: text for people (the default) or one JSON object a line.

``EventLog.event`` is for the lines a server says on its own (starting, listening, stopping). In text
mode it prints the message alone on stdout, as the servers always did; in JSON mode it writes
``{"ts", "level", "event", "message", "fields"}`` on stdout, and so do the ``logging`` records of the
``cleanroom`` loggers (their event is ``extra={"event": ...}`` or the logger's name), so a log
collector reads one stream of objects.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
from typing import Any, TextIO

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_line(level: str, event: str, message: str, fields: dict[str, Any]) -> str:
    """One log object as one line (values that are not JSON become their text)."""
    record = {"ts": _now(), "level": level, "event": event, "message": message, "fields": fields}
    return json.dumps(record, default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """``logging`` records as ``json_line`` objects (an exception's traceback goes in fields.exception)."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"logger": record.name}
        fields.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        event = getattr(record, "event", None) or record.name
        return json_line(record.levelname.lower(), event, record.getMessage(), fields)


class EventLog:
    """Where a server's own lines go, in the format and at the level chosen (``configure``)."""

    def __init__(self, fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
        self.fmt, self.level = fmt, LEVELS[level]
        self._stream = stream
        self._lock = threading.Lock()  # lines from the HTTP thread and the main thread never interleave

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def event(self, event: str, message: str, level: str = "info", **fields: Any) -> None:
        if LEVELS[level] < self.level:
            return
        line = json_line(level, event, message, fields) if self.fmt == "json" else message
        with self._lock:
            print(line, file=self.stream, flush=True)


def configure(fmt: str = "text", level: str = "info", logger: str = "cleanroom") -> EventLog:
    """Set up ``logger`` (and everything under it) for ``fmt`` and ``level``; the EventLog to use.

    Text mode adds no handler, so records reach Python's last-resort handler exactly as before (warnings
    and errors, message only, on stderr); JSON mode sends them through ``JsonFormatter`` to stdout."""
    if fmt not in ("text", "json") or level not in LEVELS:
        raise ValueError(f"log format {fmt!r} / level {level!r}")
    target = logging.getLogger(logger)
    target.setLevel(LEVELS[level])
    for handler in [h for h in target.handlers if getattr(h, "_cleanroom", False)]:
        target.removeHandler(handler)
    if fmt == "json":
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        handler._cleanroom = True  # type: ignore[attr-defined]  # ours to replace on a second configure
        target.addHandler(handler)
        target.propagate = False
    return EventLog(fmt, level)
