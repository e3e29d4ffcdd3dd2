"""`cleanroom coordinator serve` and `config`: the effective configuration, turned into a running server."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cleanroom.coordinator.config import Config, load
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.server import Operations, serve_forever
from cleanroom.terminal.logs import EventLog, configure

# `serve` flags that set a config key (their argparse default is None: "not given", so the file and the
# environment apply); the flag's name is in config_schema.
FLAG_KEYS = {
    "listen": "grpc.listen",
    "max_points": "limits.max_points",
    "upload_idle_timeout": "uploads.idle_timeout_seconds",
    "http": "http.listen",
    "http_cert": "http.cert",
    "http_key": "http.key",
    "http_allowed_host": "http.allowed_hosts",
    "log_format": "log.format",
    "log_level": "log.level",
    "shutdown_grace": "shutdown.grace_seconds",
}


def config_of(args: argparse.Namespace) -> Config:
    """The effective configuration of a `serve` (or `config`) command line: file < environment < flags."""
    flags = {dotted: getattr(args, name, None) for name, dotted in FLAG_KEYS.items()}
    return load(Path(args.data_dir), Path(args.config) if args.config else None, flags=flags)


def operations(config: Config, events: EventLog) -> Operations:
    cert, key = config["grpc.cert"], config["grpc.key"]
    return Operations(
        max_workers=config["grpc.max_workers"],
        sweep_seconds=config["retention.sweep_seconds"],
        grace_seconds=config["shutdown.grace_seconds"],
        tls=(Path(cert), Path(key)) if cert else None,
        duckdb_memory_limit=config["duckdb.memory_limit"],
        duckdb_threads=config["duckdb.threads"],
        duckdb_temp_directory=config["duckdb.temp_directory"],
        events=events,
    )


def serve(args: argparse.Namespace) -> int:
    """Check the whole configuration first (a bad value starts nothing), then serve until SIGTERM/SIGINT."""
    config = config_of(args)
    events = configure(config["log.format"], config["log.level"])
    events.event(
        "starting",
        f"coordinator starting (data dir {args.data_dir}; config file {config.file or 'none'})",
        data_dir=args.data_dir,
        config_file=str(config.file) if config.file else None,
    )
    http_cert, http_key = config["http.cert"], config["http.key"]
    serve_forever(
        DataDir(Path(args.data_dir)),
        config["grpc.listen"],
        config.limits(),
        port_file=Path(args.port_file) if args.port_file else None,
        wire_log=Path(args.wire_log) if args.wire_log else None,
        http=config["http.listen"] or None,
        http_port_file=Path(args.http_port_file) if args.http_port_file else None,
        http_tls=(Path(http_cert), Path(http_key)) if http_cert else None,
        http_hosts=config["http.allowed_hosts"],
        ops=operations(config, events),
        enroll_listen=args.enroll_listen,
        enroll_port_file=Path(args.enroll_port_file) if args.enroll_port_file else None,
    )
    return 0


def rows(config: Config) -> list[list[Any]]:
    """The `config` command's table: key, value, where it came from."""
    return [[dotted, _text(s.value), s.source] for dotted, s in config.settings.items()]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    return "(unset)" if value is None or value == "" else str(value)
