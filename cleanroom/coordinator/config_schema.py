"""Every key of the coordinator's config file: section, name, type, default, check and what it does.

This table is the one list: the loader (``config``) reads and checks keys against it, and docs/CONFIG.md
is generated from it (a unit test keeps the two equal). Defaults are the values the coordinator used
before it had a config file, so a coordinator without one behaves exactly as before.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cleanroom.coordinator.limits import (
    DEFAULT_MAX_CHUNKS,
    DEFAULT_MAX_POINTS,
    DEFAULT_MAX_SEALED_CHUNK_BYTES,
    DEFAULT_UPLOAD_IDLE_SECONDS,
    MAX_BODY_BYTES,
    MAX_OPEN_PROPOSALS,
    MAX_PROPOSALS_PER_DAY,
)
from cleanroom.protocol import MAX_MESSAGE_BYTES, MAX_METADATA_BYTES

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


def _address(value: Any) -> str | None:
    """None when ``value`` is HOST:PORT (port 0-65535, 0 picks a free one), else what is wrong."""
    host, sep, port = str(value).rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return "a HOST:PORT address such as 0.0.0.0:50051 (port 0 picks a free port)"
    return None


def _positive(value: Any) -> str | None:
    # inf (TOML `inf`, or an overflowing '1e400') would silently switch a sweep or a limit off
    return None if math.isfinite(value) and value > 0 else "a number greater than 0"


# A point's position in its upload is stored as a 32-bit unsigned integer (store/points.py).
MAX_POINTS_CEILING = 2**32 - 1


def _positions(value: Any) -> str | None:
    return _positive(value) or (
        None if value <= MAX_POINTS_CEILING else f"at most {MAX_POINTS_CEILING:,} (points are numbered in 32 bits)"
    )


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "a number 0 or greater (0: DuckDB's own default)"


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in allowed else "one of " + ", ".join(repr(a) for a in allowed)

    return check


def _memory(value: Any) -> str | None:
    text = str(value).strip().lower().replace(" ", "")
    number = text.rstrip("kmgtib")
    units = text[len(number) :]
    ok = text == "" or (
        number.replace(".", "", 1).isdigit() and units in ("", "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib")
    )
    return None if ok else "a size such as '4GB' or '512MiB' ('' leaves DuckDB's default: 80% of RAM)"


def _directory(value: Any) -> str | None:
    """'' or an absolute path that is a directory or not there yet (a relative one would follow the working directory)."""
    text = str(value)
    if text == "":
        return None
    if "\x00" in text or not os.path.isabs(text):
        return "an absolute directory path ('': DATA_DIR/duckdb-tmp)"
    if os.path.exists(text) and not os.path.isdir(text):
        return "a directory, and this path is a file ('': DATA_DIR/duckdb-tmp)"
    return None


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    kind: type  # int, float, str, bool or list (of str)
    default: Any  # None: not set (the description says what then applies)
    doc: str
    check: Callable[[Any], str | None] | None = None  # None when valid, else what is allowed
    flag: str = ""  # the `serve` flag that sets it, if any

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env(self) -> str:
        return f"CLEANROOM_{self.section}_{self.name}".upper()


KEYS: tuple[Key, ...] = (
    Key("grpc", "listen", str, None, "Address gRPC (mTLS) serves on. Unset: the `listen` of DATA_DIR/config.json "
        "(written by `init --listen`).", _address, "--listen"),
    Key("grpc", "cert", str, "", "Server TLS certificate (PEM) for gRPC. '': DATA_DIR/server.pem (issued by `init`)."),
    Key("grpc", "key", str, "", "Its private key (PEM), with `cert`. '': DATA_DIR/server.key."),
    Key("grpc", "max_workers", int, 8, "Threads serving gRPC calls at once (each open upload stream holds one).", _positive),
    Key("grpc", "max_message_bytes", int, MAX_MESSAGE_BYTES, "Largest gRPC message either way; clients use 64 MiB.", _positive),
    Key("grpc", "max_metadata_bytes", int, MAX_METADATA_BYTES, "Largest gRPC call headers received (soft and hard limit).",
        _positive),
    Key("http", "listen", str, "", "Also serve the REST API and pages here (HOST:PORT). '': not served. Plain HTTP on "
        "loopback only; any other address needs `cert` and `key`. A bare PORT means 127.0.0.1:PORT.",
        lambda v: None if v == "" or str(v).isdigit() else _address(v), "--http"),
    Key("http", "cert", str, "", "TLS certificate (PEM) for the REST API and pages.", None, "--http-cert"),
    Key("http", "key", str, "", "Its private key (PEM), with `cert`.", None, "--http-key"),
    Key("http", "allowed_hosts", list, [], "Host headers answered besides the `listen` address's (`*.example.com` allowed). "
        "Environment: comma-separated.", None, "--http-allowed-host"),
    Key("http", "max_body_bytes", int, MAX_BODY_BYTES, "Largest HTTP request body (413 over it).", _positive),
    Key("limits", "max_points", int, DEFAULT_MAX_POINTS, "Points one upload may hold.", _positions, "--max-points"),
    Key("limits", "max_chunks", int, DEFAULT_MAX_CHUNKS, "Chunks one upload may announce.", _positive),
    Key("limits", "max_sealed_chunk_bytes", int, DEFAULT_MAX_SEALED_CHUNK_BYTES, "Sealed fields of one chunk.", _positive),
    Key("limits", "max_open_proposals", int, MAX_OPEN_PROPOSALS, "Proposals one party may have waiting for approval.",
        _positive),
    Key("limits", "max_proposals_per_day", int, MAX_PROPOSALS_PER_DAY, "Proposals one party may make in 24 hours.",
        _positive),
    Key("uploads", "idle_timeout_seconds", float, DEFAULT_UPLOAD_IDLE_SECONDS, "An upload begun and not committed is "
        "deleted after this long without a chunk.", _positive, "--upload-idle-timeout"),
    Key("retention", "sweep_seconds", float, 1.0, "How often points past their agreement's retention, idle uploads and "
        "the store file's health are checked.", _positive),
    Key("duckdb", "memory_limit", str, "", "DuckDB's memory_limit ('4GB'). '': DuckDB's default (80% of RAM).", _memory),
    Key("duckdb", "threads", int, 0, "DuckDB's worker threads. 0: DuckDB's default (one per core).", _not_negative),
    Key("duckdb", "temp_directory", str, "", "Where DuckDB spills past `memory_limit` (a run's join, for one), created "
        "0700: it holds tokens. '': DATA_DIR/duckdb-tmp.", _directory),
    Key("log", "format", str, "text", "`text`: lines for people; `json`: one JSON object a line (ts, level, event, "
        "message, fields).", _one_of(*LOG_FORMATS), "--log-format"),
    Key("log", "level", str, "info", "Least severe level logged.", _one_of(*LOG_LEVELS), "--log-level"),
    Key("shutdown", "grace_seconds", float, 2.0, "On SIGTERM or SIGINT: time in-flight calls get to finish before they "
        "are cancelled (an upload cut off resumes from its stored chunks).", _positive, "--shutdown-grace"),
)  # fmt: skip

BY_DOTTED = {k.dotted: k for k in KEYS}
SECTIONS = tuple(dict.fromkeys(k.section for k in KEYS))


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, list):
        return "`[]`" if not value else f"`{value}`"
    return f"`{value:_}`" if isinstance(value, int) else f"`{value}`"


def markdown() -> str:
    """docs/CONFIG.md: every key with its default, environment variable and flag."""
    lines = [
        "# Coordinator configuration",
        "",
        "Generated from `cleanroom/coordinator/config_schema.py` (a unit test checks this file against it):",
        "`python -m cleanroom.coordinator.config_schema > docs/CONFIG.md`.",
        "",
        "`cleanroom coordinator serve` reads a TOML file given by `--config FILE`, else DATA_DIR/coordinator.toml",
        "if present. Each key can be set by an environment variable `CLEANROOM_<SECTION>_<KEY>`; a `serve` flag",
        "overrides both (file < environment < flag). An unknown section or key, a wrong type or a bad value stops",
        "the coordinator before it opens anything, naming the file (or variable, or flag) and the key; exit status 2.",
        "`cleanroom coordinator config --data-dir DIR [--config FILE] [--json]` prints the effective values and",
        "where each came from. Without a file every default below is the coordinator's behaviour before it had one.",
        "",
    ]
    for section in SECTIONS:
        lines += [
            f"## [{section}]",
            "",
            "| key | type | default | environment | flag | what it does |",
            "|---|---|---|---|---|---|",
        ]
        for k in (k for k in KEYS if k.section == section):
            kind = "list of strings" if k.kind is list else k.kind.__name__
            flag = f"`{k.flag}`" if k.flag else ""
            lines.append(f"| `{k.name}` | {kind} | {_shown(k.default)} | `{k.env}` | {flag} | {k.doc} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
