"""``cleanroom coordinator invite`` and ``remove-party``: admin operations (``admin.operations``) over
``cleanroom.coordinator.enrolment.Enrolment``, through the admin socket of a serving coordinator (whose
own Enrolment refuses a removed certificate at once) or on a stopped one's store file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cleanroom.terminal.console import print_json


def _invite(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.admin.dispatch import call
    from cleanroom.coordinator.datadir import DataDir

    # Through the admin socket when the coordinator serves; on its store file when stopped.
    answer = call(DataDir(Path(args.data_dir)), "invite", {"party": args.party, "expires": args.expires})
    address, command = answer["enroll_address"], answer["command"]
    if args.json:
        print_json(answer)
        return 0
    print(command)
    if address.rpartition(":")[0] in ("0.0.0.0", "::", "[::]"):
        print(
            f"(the enrolment port listens on {address}: give the party the host name it reaches this machine by)", file=sys.stderr
        )
    print(
        f"One-time enrolment token for {answer['party']!r} (id {answer['token_id']}), valid until {answer['expires_at']}.\n"
        f"CA fingerprint (SHA-256): {answer['ca_fingerprint']}\n"
        "Hand the command above to the party over a channel you trust; the token is shown only now and stored as a hash.\n"
        "The party's key is created on its own machine: you never hold it.",
        file=sys.stderr,
    )
    return 0


def _remove_party(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.admin.dispatch import call
    from cleanroom.coordinator.datadir import DataDir

    removed = call(DataDir(Path(args.data_dir)), "remove-party", {"party": args.party})
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
        "invite", help="a one-time enrolment token for a party (its key is born on its machine); serving or stopped"
    )
    p.add_argument("party")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--expires", default="72h", help="token lifetime (default 72h; 1m to 30d)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_invite)
    p = csub.add_parser("remove-party", help="revoke a party's certificates and API keys at once; serving or stopped")
    p.add_argument("party")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_remove_party)
