"""Pieces shared by the subcommands: opening the profile and the coordinator."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cleanroom.terminal.console import err
from cleanroom_client.commands._engine import open_engine
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.remote import Remote


@contextmanager
def session(args: argparse.Namespace) -> Iterator[tuple[Profile, Remote]]:
    """The profile and a channel to the coordinator, under the engine the command chose (``--engine``)."""
    with open_engine(args):
        profile = Profile.load(args.profile)
        with Remote(profile) as remote:
            yield profile, remote


def keystore(profile: Profile) -> Keystore:
    return Keystore.of(profile)


def receipts(profile: Profile) -> ReceiptLog:
    return ReceiptLog.of(profile)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object (for machines)")


def print_alerts(view: dict[str, Any]) -> None:
    """One line per alert delivery a release caused (stderr: the overlap table stays the output)."""
    for sent in view.get("alerts", []):
        if sent["status"] == "error":
            err.print(f"warning: {sent['error']}", markup=False)
            continue
        note = f" ({sent['error']}; kept, tried again next time)" if sent["status"] == "pending" else ""
        note = f" ({sent['error']})" if sent["status"] == "rejected" else note
        err.print(f"alert {sent['delivery_id']} to {sent['receiver_id']}: {sent['status']}{note}", markup=False)
