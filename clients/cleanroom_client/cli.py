"""``cleanroom-client``: the participant's command line."""

from __future__ import annotations

import os

# gRPC's C core logs TLS handshake details to stderr; our errors say it in one line.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

import cleanroom_client.commands as _commands
from cleanroom.terminal.process import run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cleanroom-client",
        description="Map your accounts with a partner's without either side seeing the other's raw data.",
    )
    parser.add_argument("--profile", metavar="DIR", help="party profile directory (certificate, keys, coordinator address)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cleanroom_client.commands.{info.name}")
        module.register(sub)
    # Commands other packages plug in (synthetic data): found by entry point, never imported by name.
    for plugin in entry_points(group="cleanroom_client.commands"):
        plugin.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
