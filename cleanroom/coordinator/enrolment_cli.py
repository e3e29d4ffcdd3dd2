"""``cleanroom coordinator invite`` and ``remove-party``: enrolment on a stopped coordinator's store.

The operations themselves are ``cleanroom.coordinator.enrolment.Enrolment``'s, so an admin channel to a
running coordinator can call the same methods on its own store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cleanroom.errors import InputError
from cleanroom.terminal.console import print_json
from cleanroom.terminal.durations import parse_duration

if TYPE_CHECKING:  # imported where used: the command line starts without loading the store
    from cleanroom.coordinator.datadir import DataDir
    from cleanroom.coordinator.enrolment import Enrolment


@contextmanager
def stopped_enrolment(data_dir: str) -> Iterator[tuple[DataDir, Enrolment]]:
    """Enrolment over the store of a stopped coordinator (a running one holds the store's lock)."""
    import duckdb

    from cleanroom.coordinator.datadir import DataDir
    from cleanroom.coordinator.enrolment import Enrolment
    from cleanroom.coordinator.store import Store

    directory = DataDir(Path(data_dir))
    directory.config()
    try:
        store = Store(directory.store_path, directory.signer())
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise InputError(f"{directory.store_path} is in use by a running coordinator: stop it first") from None
        raise
    try:
        yield directory, Enrolment(store, directory)
    finally:
        store.close()


def _invite(args: argparse.Namespace) -> int:
    expires = dt.timedelta(seconds=parse_duration(args.expires))
    with stopped_enrolment(args.data_dir) as (directory, enrolment):
        invitation = enrolment.invite(args.party, expires)
        config = directory.config()
    address = str(config.get("enroll_advertise") or directory.enroll_listen())
    command = (
        f"cleanroom-client enroll {address} --token {invitation.token} "
        f"--ca-fingerprint {invitation.ca_fingerprint} --profile ./{invitation.party}-profile"
    )
    if args.json:
        print_json({**vars(invitation), "enroll_address": address, "command": command})
        return 0
    print(command)
    if address.rpartition(":")[0] in ("0.0.0.0", "::", "[::]"):
        print(
            f"(the enrolment port listens on {address}: give the party the host name it reaches this machine by)", file=sys.stderr
        )
    print(
        f"One-time enrolment token for {invitation.party!r} (id {invitation.token_id}), valid until {invitation.expires_at}.\n"
        f"CA fingerprint (SHA-256): {invitation.ca_fingerprint}\n"
        "Hand the command above to the party over a channel you trust; the token is shown only now and stored as a hash.\n"
        "The party's key is created on its own machine: you never hold it.",
        file=sys.stderr,
    )
    return 0


def _remove_party(args: argparse.Namespace) -> int:
    with stopped_enrolment(args.data_dir) as (_, enrolment):
        removed: dict[str, Any] = enrolment.remove_party(args.party)
    if args.json:
        print_json(removed)
    else:
        print(
            f"party {args.party!r} removed: {len(removed['serials'])} certificate(s) revoked, "
            f"{len(removed['api_keys'])} API key(s) revoked, {len(removed['invitations'])} open invitation(s) cancelled"
        )
    return 0


def add_enrolment_commands(csub: Any) -> None:
    """``invite`` and ``remove-party``, and the enrolment port's flags on the ``init`` and ``serve`` parsers."""
    init, serve = csub.choices["init"], csub.choices["serve"]
    init.add_argument("--enroll-listen", help="address of the enrolment port (default: the --listen host, the next port)")
    serve.add_argument("--enroll-listen", metavar="HOST:PORT", help="the enrolment port (server TLS; default: the data dir's)")
    serve.add_argument("--enroll-port-file", help="write the bound enrolment port here once serving")
    p = csub.add_parser(
        "invite", help="a one-time enrolment token for a party (its key is born on its machine); coordinator stopped"
    )
    p.add_argument("party")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--expires", default="72h", help="token lifetime (default 72h; 1m to 30d)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_invite)
    p = csub.add_parser("remove-party", help="revoke a party's certificates and API keys at once; coordinator stopped")
    p.add_argument("party")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_remove_party)
