"""``cleanroom-client COMMAND`` imports only the module that registers COMMAND (commands.MODULE_OF): the
table must name every command the modules register, and each command's own parser must be the one the
whole command line builds."""

from __future__ import annotations

import argparse
import subprocess
import sys

from cleanroom_client.cli import build_parser, command_of
from cleanroom_client.commands import MODULE_OF


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_the_table_names_every_command_the_modules_register_and_nothing_else():
    whole = _commands(build_parser())
    plugins = {"synth"}  # by entry point: the full parser, as for any command not in the table
    assert set(MODULE_OF) == set(whole) - plugins
    for command in MODULE_OF:
        alone = _commands(build_parser(command))
        assert command in alone
        assert alone[command].format_help() == whole[command].format_help()


def test_the_command_is_the_first_word_that_is_not_an_option_or_the_profile():
    assert command_of(["--profile", "p", "map", "agr", "f.csv"]) == "map"
    assert command_of(["map", "--profile", "x"]) == "map"
    assert command_of(["--profile", "renew"]) is None  # a profile directory named like a command
    assert command_of(["-h"]) is None and command_of([]) is None


def _imported_after(command: str, expression: str) -> str:
    """What ``expression`` (over ``sys.modules``) prints in a fresh Python after building ``command``'s parser."""
    code = f"import sys\nfrom cleanroom_client.cli import build_parser\nbuild_parser({command!r})\nprint({expression})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_a_map_imports_neither_the_homomorphic_scheme_nor_the_webhook_client():
    heavy = "sorted(m for m in ('httpx', 'cleanroom.homomorphic', 'cleanroom.oprf') if m in sys.modules)"
    assert _imported_after("map", heavy) == "[]"


def test_a_command_imports_no_other_commands_module():  # shared helpers (commands._*) aside
    commands = "sorted(m for m in sys.modules if m.startswith('cleanroom_client.commands.') and '._' not in m)"
    assert _imported_after("alerts", commands) == "['cleanroom_client.commands.alerts']"
