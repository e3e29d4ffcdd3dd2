"""Pieces shared by the subcommands: opening the profile and the coordinator."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from cleanroom_client.profile import Profile
from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.remote import Remote


@contextmanager
def session(args: argparse.Namespace) -> Iterator[tuple[Profile, Remote]]:
    profile = Profile.load(args.profile)
    with Remote(profile) as remote:
        yield profile, remote


def keystore(profile: Profile) -> Keystore:
    return Keystore.of(profile)


def receipts(profile: Profile) -> ReceiptLog:
    return ReceiptLog.of(profile)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object (for machines)")
