"""The client's command line imports only the module of the command it runs: the same parser as the full one."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from cleanroom_client.cli import build_parser, command_parser, command_word


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["alerts", "list"], "alerts"),
        (["--profile", "p", "map", "agr", "f.csv"], "map"),
        (["--profile=p", "sync"], "sync"),
        (["--profile", "--weird-dir", "overlap"], "overlap"),  # a value of --profile, however it looks
        (["--help"], None),
        (["--prof", "p", "map"], None),  # argparse takes the abbreviation: the full parser reads it
        ([], None),
        (["--profile"], None),
    ],
)
def test_the_command_word_is_read_as_the_parser_reads_it(argv: list[str], word: str | None) -> None:
    assert command_word(argv) == word


def test_every_command_parses_as_in_the_full_parser() -> None:
    full = _commands(build_parser())
    narrowed = 0
    for name, expected in full.items():
        own = _commands(command_parser([name]))
        if name in ("renew", "synth"):  # registered by a module of another name, or plugged in: the full parser
            assert set(own) == set(full), name
            continue
        assert set(own) == ({"enroll", "renew"} if name == "enroll" else {name}), name  # only its own module's
        assert own[name].format_help() == expected.format_help(), name
        narrowed += 1
    assert narrowed >= 10


def test_a_command_starts_without_the_other_commands_modules() -> None:
    code = "import sys; from cleanroom_client.cli import command_parser; command_parser(['alerts', 'list']); "
    code += "print(sorted(m for m in sys.modules if m.startswith('cleanroom_client.commands.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "cleanroom_client.commands.alerts" in out and "cleanroom_client.commands.map'" not in out, out
