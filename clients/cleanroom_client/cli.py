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


def _parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(
        prog="cleanroom-client",
        description="Map your accounts with a partner's without either side seeing the other's raw data.",
    )
    parser.add_argument("--profile", metavar="DIR", help="party profile directory (certificate, keys, coordinator address)")
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND", required=True)


def _command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(_commands.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (the plugged-in ones too)."""
    parser, sub = _parser()
    for name in _command_modules():
        importlib.import_module(f"cleanroom_client.commands.{name}").register(sub)
    # Commands other packages plug in (synthetic data): found by entry point, never imported by name.
    for plugin in entry_points(group="cleanroom_client.commands"):
        plugin.load()(sub)
    return parser


def command_word(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, read as the parser does (``--profile DIR`` may come first); None when it
    starts otherwise (``--help``, an abbreviated option, nothing)."""
    words = iter(argv)
    for word in words:
        if word == "--profile":
            next(words, None)
        elif not word.startswith("--profile="):
            return None if word.startswith("-") else word
    return None


def command_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """A parser for ``argv``: of its one command when a command module of that name registers it, else of all.
    Every command module's imports (pyarrow, DuckDB, numpy, the map workflow) took 0.1 to 0.4 s of each short
    command's start, `alerts list` 0.78 s in all; a command parses exactly as it does in ``build_parser``."""
    word = command_word(argv)
    if word in _command_modules():
        parser, sub = _parser()
        importlib.import_module(f"cleanroom_client.commands.{word}").register(sub)
        if word in sub.choices:
            return parser
    return build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = command_parser(argv).parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
