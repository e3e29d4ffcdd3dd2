"""``cleanroom-client registrations``: private deal-registration conflict checks.

Vendor: ``registrations program create|list|serve|conflicts``. Partner:
``registrations register|list|withdraw``. A partner registering a deal learns
only whether another partner holds an active registration on the account
(and its date and holder, when the program says so); the vendor learns the
conflicts on its program, by its own accounts where they are in its CRM.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cleanroom.errors import InputError
from cleanroom.terminal.console import err, out, print_json, print_table
from cleanroom.terminal.durations import parse_duration
from cleanroom_client.commands._common import add_json, session
from cleanroom_client.features import registrations as reg
from cleanroom_client.remote.registrations import Program


def _program_view(p: Program) -> dict[str, Any]:
    return {**vars(p), "program_public": p.program_public.hex(), "partners": list(p.partners)}


def _say(line: str) -> None:
    err.print(line, markup=False)


# -- vendor ------------------------------------------------------------------------


def _create(args: argparse.Namespace) -> int:
    partners = [p.strip() for p in args.partners.split(",") if p.strip()]
    if parse_duration(args.expiry) < 1:
        raise InputError(f"--expiry {args.expiry}: a registration must last at least 1 second (default 90d)")
    with session(args) as (profile, remote):
        program = reg.create_program(
            remote, profile, args.title, partners, expiry_seconds=int(parse_duration(args.expiry)),
            reveal_date=args.reveal_date, reveal_holder=args.reveal_holder, max_checks_per_day=args.max_checks_per_day,
        )  # fmt: skip
    if args.json:
        print_json(_program_view(program))
    else:
        out.print(f"program {program.program_id} created for {', '.join(program.partners)}; its secret stays in this profile")
        out.print(f"serve the partners' checks with `cleanroom-client registrations program serve {program.program_id}`")
    return 0


def _programs(args: argparse.Namespace) -> int:
    with session(args) as (_, remote):
        programs = remote.registrations.programs()
    if args.json:
        print_json({"programs": [_program_view(p) for p in programs]})
    else:
        rows = [(p.program_id, p.title, p.vendor, ", ".join(p.partners), f"{p.expiry_seconds // 86400} d") for p in programs]
        print_table("registration programs", ["program", "title", "vendor", "partners", "expiry"], rows)
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Exit 1 when a request was refused (a forged or replayed request, a key that changed, a partner over its
    limit): someone should look."""
    with session(args) as (profile, remote):
        served = reg.serve(remote, profile, args.program, parse_duration(args.wait), None if args.json else _say)
    if args.json:
        print_json(served.view())
    else:
        out.print(f"evaluated {sum(served.evaluated.values())} request(s) on {args.program}")
        if served.refused:
            err.print(f"refused {len(served.refused)} request(s): see above; nothing was evaluated for them", markup=False)
    return 1 if served.refused else 0


def _trust(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        pin = reg.trust(remote, profile, args.program, args.partner, args.fingerprint, args.replace)
    if args.json:
        print_json(pin)
    else:
        out.print(f"{args.partner}'s requests on {args.program} are evaluated only if signed by key {pin['fingerprint']}")
    return 0


def _key(args: argparse.Namespace) -> int:
    with session(args) as (profile, _):
        fingerprint = reg.partner_key(profile, args.program)
    if args.json:
        print_json({"program_id": args.program, "party": profile.party, "signing_fingerprint": fingerprint})
    else:
        out.print(f"your request-signing key on {args.program}: {fingerprint}")
        out.print("read it to the vendor, who pins it with `registrations program trust PROGRAM PARTNER FINGERPRINT`")
    return 0


def _conflicts(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        found = reg.conflicts(remote, profile, args.program, Path(args.file) if args.file else None)
    if args.json:
        print_json(found)
        return 0
    rows = [
        (c["account"], c["domain"], ", ".join(f"{h['partner']} ({h['registered_at'][:10]})" for h in c["holders"]))
        for c in found["labelled"]
    ]
    print_table(f"conflicts on {args.program}", ["account", "domain", "registered by"], rows)
    out.print(f"{found['unlabelled']} other conflict(s) on accounts not in your file; {found['total_conflicts']} in all")
    return 0


# -- partner -----------------------------------------------------------------------


def _register(args: argparse.Namespace) -> int:
    account = reg.account_in_file(Path(args.file), args.account, args.key_column, args.name_column)
    with session(args) as (profile, remote):
        result = reg.register(remote, profile, args.program, account, parse_duration(args.wait), None if args.json else _say)
    if args.json:
        print_json(result)
    elif result["state"] == "waiting":
        out.print(
            f"request {result['request_id']} for {account.label} is queued for the vendor's evaluation; "
            "run the same command again later to complete it"
        )
        out.print(f"signed with your key {result['signing_fingerprint']} (the vendor's client pins it)")
    elif result["conflict"]:
        other = " ".join(
            part for part in (
                f"registered {result['other_registered_at']}" if result["other_registered_at"] else "",
                f"by {result['other_holder']}" if result["other_holder"] else "",
            ) if part
        )  # fmt: skip
        out.print(
            f"CONFLICT: another partner holds an active registration on {account.label}{' (' + other + ')' if other else ''}"
        )
        out.print(f"your registration {result['registration_id']} is recorded, until {result['expires_at']}")
    else:
        out.print(f"registered {account.label}: no conflict ({result['registration_id']}, until {result['expires_at']})")
    return 0


def _list(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        rows = reg.registrations(remote, profile, args.program or "")
    if args.json:
        print_json({"registrations": rows})
    else:
        table = [
            (
                r["registration_id"],
                r["program_id"],
                r["account"],
                r["state"],
                r["registered_at"][:19],
                r["expires_at"][:19],
                "yes" if r["conflict"] else "",
            )
            for r in rows
        ]
        print_table(
            "your registrations", ["registration", "program", "account", "state", "registered", "expires", "conflict"], table
        )
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        withdrawn = reg.withdraw(remote, profile, args.program, args.which)
    if args.json:
        print_json(withdrawn)
    else:
        out.print(f"withdrew {withdrawn['registration_id']} ({withdrawn['account'] or 'account not labelled here'})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "registrations", help="private deal-registration conflict checks (program, register, key, list, withdraw)"
    )
    rsub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    program = rsub.add_parser("program", help="vendor: create, list, serve and see the conflicts of your programs")
    psub = program.add_subparsers(dest="program_action", metavar="ACTION", required=True)
    p = psub.add_parser("create", help="create a program (its secret is born and kept in this profile)")
    p.add_argument("--title", required=True)
    p.add_argument("--partners", required=True, metavar="NAME[,NAME...]", help="the partners who may register")
    p.add_argument("--expiry", default="90d", help="how long a registration lasts (default 90d)")
    p.add_argument("--reveal-date", action="store_true", help="a conflicting partner learns the other registration's date")
    p.add_argument("--reveal-holder", action="store_true", help="a conflicting partner learns who holds the other registration")
    p.add_argument("--max-checks-per-day", type=int, default=200, help="evaluations per partner per 24 hours (default 200)")
    add_json(p)
    p.set_defaults(handler=_create)
    p = psub.add_parser("list", help="the programs you run or are a partner of")
    add_json(p)
    p.set_defaults(handler=_programs)
    p = psub.add_parser(
        "serve", help="evaluate the partners' pending checks with the program's secret (signed by their pinned keys only)"
    )
    p.add_argument("program")
    p.add_argument("--wait", default="0", help="keep serving this long (e.g. 10m); default: what is pending now")
    add_json(p)
    p.set_defaults(handler=_serve)
    p = psub.add_parser("trust", help="pin a partner's request-signing key by the fingerprint it read out to you")
    p.add_argument("program")
    p.add_argument("partner")
    p.add_argument("fingerprint", help="as `registrations key PROGRAM` prints it on the partner's machine (quote it)")
    p.add_argument("--replace", action="store_true", help="replace a key pinned before (the partner lost its key)")
    add_json(p)
    p.set_defaults(handler=_trust)
    p = psub.add_parser("conflicts", help="the conflicts on your program, labelled by the accounts of your CRM file")
    p.add_argument("program")
    p.add_argument("--file", help="your CRM export (CSV, Parquet, XLSX): conflicts on its accounts are named")
    add_json(p)
    p.set_defaults(handler=_conflicts)

    _partner_parsers(rsub)


def _partner_parsers(rsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = rsub.add_parser("register", help="partner: register a deal on an account of your file")
    p.add_argument("program")
    p.add_argument("file", help="your CRM export; the account must be in it")
    p.add_argument("--account", required=True, help="the account's domain, website or e-mail address, or its name in the file")
    p.add_argument("--wait", default="0", help="wait this long for the vendor's evaluation (e.g. 10m); default: queue and return")
    p.add_argument("--key-column")
    p.add_argument("--name-column")
    add_json(p)
    p.set_defaults(handler=_register)
    p = rsub.add_parser("key", help="partner: your request-signing key's fingerprint on a program (for the vendor)")
    p.add_argument("program")
    add_json(p)
    p.set_defaults(handler=_key)
    p = rsub.add_parser("list", help="partner: your registrations")
    p.add_argument("program", nargs="?")
    add_json(p)
    p.set_defaults(handler=_list)
    p = rsub.add_parser("withdraw", help="partner: withdraw a registration (by id, or by the account's domain or name)")
    p.add_argument("program")
    p.add_argument("which", metavar="REGISTRATION_OR_ACCOUNT")
    add_json(p)
    p.set_defaults(handler=_withdraw)
