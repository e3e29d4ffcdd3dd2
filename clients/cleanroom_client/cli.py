"""``cleanroom-client``: the participant's command line."""

from __future__ import annotations

import os

# gRPC's C core logs TLS handshake details to stderr; our errors say it in one line.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import argparse
import gc
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

import cleanroom_client.commands as _commands
from cleanroom.terminal.malloc_arenas import limit_malloc_arenas
from cleanroom.terminal.process import run_command
from cleanroom_client.commands import MODULE_OF


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command`` one of ``MODULE_OF``'s, only the module serving it is imported."""
    parser = argparse.ArgumentParser(
        prog="cleanroom-client",
        description="Map your accounts with a partner's without either side seeing the other's raw data.",
    )
    parser.add_argument("--profile", metavar="DIR", help="party profile directory (certificate, keys, coordinator address)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command in MODULE_OF:
        names = [MODULE_OF[command]]
    else:
        names = sorted(m.name for m in pkgutil.iter_modules(_commands.__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"cleanroom_client.commands.{name}").register(sub)
    if command not in MODULE_OF:
        # Commands other packages plug in (synthetic data): found by entry point, never imported by name.
        for plugin in entry_points(group="cleanroom_client.commands"):
            plugin.load()(sub)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is neither an option nor ``--profile``'s value."""
    words = iter(argv)
    for word in words:
        if word == "--profile":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    limit_malloc_arenas()  # first: the command's modules (gRPC, Arrow, pools) start threads
    given = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(command_of(given)).parse_args(given)
    return run_command(args)


def run() -> None:
    """The command line's entry point: ``main``, then exit. What the command leaves is frozen first: the
    interpreter's last collections at exit would otherwise walk every object of a million-row read (0.12 s
    of an incremental map's 4). Memory goes back to the system with the process either way."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
