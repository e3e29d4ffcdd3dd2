"""``cleanroom-client enroll`` and ``renew``: our key is created here; the coordinator's CA signs its CSR."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cleanroom.errors import InputError
from cleanroom.terminal.console import out, print_json
from cleanroom_client.commands._common import add_json
from cleanroom_client.features import enrolment
from cleanroom_client.profile import Profile

TOKEN_VARIABLE = "CLEANROOM_ENROLL_TOKEN"


def _profile_dir(args: argparse.Namespace) -> str:
    found = args.sub_profile or args.profile
    if not found:
        raise InputError("give --profile DIR: the directory the profile is written to")
    return str(found)


def _report(args: argparse.Namespace, done: enrolment.Enrolled, verb: str) -> int:
    if args.json:
        print_json({"profile": str(done.profile), "party": done.party, "serial": done.serial, "not_after": done.not_after})
    else:
        out.print(
            f"{verb} as {done.party!r}: certificate {done.serial} valid until {done.not_after}; profile {done.profile} "
            f"(coordinator {done.coordinator}). The private key was created here and never left this machine."
        )
    return 0


def _token(args: argparse.Namespace) -> str:
    """--token, '-' for a line of stdin, else $CLEANROOM_ENROLL_TOKEN: a token on the command line is in the
    process list, where another local user can read it and enrol first."""
    found = args.token if args.token is not None else os.environ.get(TOKEN_VARIABLE, "")
    found = sys.stdin.readline() if found == "-" else found
    if not found.strip():
        raise InputError(f"give the enrolment token: --token TOKEN, --token - (read from stdin) or ${TOKEN_VARIABLE}")
    return found.strip()


def _enroll(args: argparse.Namespace) -> int:
    done = enrolment.enroll(args.address, _token(args), args.ca_fingerprint, Path(_profile_dir(args)), args.coordinator_address)
    return _report(args, done, "enrolled")


def _renew(args: argparse.Namespace) -> int:
    done = enrolment.renew(Profile.load(_profile_dir(args)))
    return _report(args, done, "renewed")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("enroll", help="enrol with a one-time token: create our key here and get its certificate")
    p.add_argument("address", metavar="HOST:PORT", help="the coordinator's enrolment port, as the operator's invitation says")
    p.add_argument(
        "--token",
        help=f"the one-time enrolment token; '-' reads it from stdin; default ${TOKEN_VARIABLE} "
        "(prefer either: the command line is visible to other users of this machine)",
    )
    p.add_argument("--ca-fingerprint", required=True, help="SHA-256 of the coordinator's CA certificate (from the operator)")
    p.add_argument("--profile", dest="sub_profile", metavar="DIR", help="the profile directory to create")
    p.add_argument(
        "--address", dest="coordinator_address", metavar="HOST:PORT", help="the mTLS address to use (default: the coordinator's)"
    )
    add_json(p)
    p.set_defaults(handler=_enroll)
    p = sub.add_parser("renew", help="a new key and certificate before ours expires (the old certificate is refused after)")
    p.add_argument("--profile", dest="sub_profile", metavar="DIR", help="the profile to renew")
    add_json(p)
    p.set_defaults(handler=_renew)
