"""``cleanroom-client synth --out DIR``: generated CRM exports with exact ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from cleanroom.console import out, print_json
from cleanroom.errors import InputError
from cleanroom_client.commands._common import add_json
from cleanroom_client.synth import write_pair


def _synth(args: argparse.Namespace) -> int:
    try:
        paths = write_pair(Path(args.out), args.vendor_accounts, args.partner_accounts, args.overlap, args.seed, args.format)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.json:
        print_json(paths)
    else:
        for role, path in paths.items():
            out.print(f"{role:13} {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate a vendor (Salesforce) and partner (HubSpot) export with a known overlap")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--vendor-accounts", type=int, default=20_000)
    p.add_argument("--partner-accounts", type=int, default=15_000)
    p.add_argument("--overlap", type=int, default=4_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--format", choices=["csv", "parquet", "xlsx"], default="csv")
    add_json(p)
    p.set_defaults(handler=_synth)
