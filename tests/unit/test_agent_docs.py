"""The agent's documentation keeps up with it: the README names every flag, and the shipped systemd unit
runs the agent in the sandbox the README promises."""

from __future__ import annotations

import argparse
import configparser
from pathlib import Path

from cleanroom_client.cli import build_parser

REPO = Path(__file__).resolve().parents[2]


def _agent_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["agent"]


def test_the_readme_names_every_public_flag_of_the_agent():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The agent") : readme.index("## Compliance")]
    public = [
        flag
        for action in _agent_parser()._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]
    file_options = {"--key-column", "--name-column", "--population-column", "--country-column", "--population-map"}
    missing = [f for f in public if f not in section and f not in file_options]
    assert "--watch" in public and "--allow-shrink" in public
    assert missing == []


def test_the_systemd_unit_is_hardened_and_stops_cleanly():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read(REPO / "deploy" / "systemd" / "cleanroom-agent.service")
    service = unit["Service"]
    assert " agent --watch " in service["ExecStart"]
    assert service["User"] and service["User"] != "root"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "true"
    assert service["ReadWritePaths"] in service["Environment"]  # the profile is the one writable path
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 60
    assert service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
