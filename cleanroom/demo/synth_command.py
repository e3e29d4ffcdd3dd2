"""``cleanroom-client synth --out DIR``: generated CRM exports with exact ground truth.

By default a vendor account report and a partner company export with a known
overlap; with ``--attribution`` instead a vendor deals file and one touches
file per partner with the true touches of every deal (synth_deals.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cleanroom.demo.synth import write_pair
from cleanroom.demo.synth_deals import write_attribution_set
from cleanroom.errors import InputError
from cleanroom.terminal.console import out, print_json
from cleanroom_client.commands._common import add_json


def partner_names(count: int) -> tuple[str, ...]:
    """partner-a, partner-b, ... (partner-27, ... past the alphabet)."""
    return tuple(f"partner-{chr(97 + i)}" if i < 26 else f"partner-{i + 1}" for i in range(count))


def _synth(args: argparse.Namespace) -> int:
    try:
        if args.attribution:
            if args.partners < 1:
                raise ValueError(f"--partners must be at least 1, got {args.partners}")
            truth = write_attribution_set(
                Path(args.out),
                deals=args.deals,
                partners=partner_names(args.partners),
                touches=args.touches,
                seed=args.seed,
                style=args.style,
                fmt=args.format,
                foreign_share=args.foreign_share,
            )
            paths = truth.paths
            summary = truth.summary()
        else:
            paths = write_pair(
                Path(args.out),
                args.vendor_accounts,
                args.partner_accounts,
                args.overlap,
                args.seed,
                formats=(args.format,),
                shared_accounts=args.shared_accounts,
            )
            summary = None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.json:
        print_json(summary if summary is not None else paths)
    else:
        width = max(13, *(len(k) + 1 for k in paths))
        for role, path in paths.items():
            out.print(f"{role:{width}} {path}", markup=False)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate a vendor (Salesforce) and partner (HubSpot) export with a known overlap")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the exports and ground_truth.json")
    p.add_argument("--vendor-accounts", type=int, default=20_000)
    p.add_argument("--partner-accounts", type=int, default=15_000)
    p.add_argument("--overlap", type=int, default=4_000, help="companies both sides have")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--format", choices=["csv", "parquet", "xlsx"], default="csv", help="file format of every file written")
    p.add_argument(
        "--shared-accounts",
        action="store_true",
        help="also write shared_accounts.csv: each company both sides have, with its populations on each side",
    )
    a = p.add_argument_group("attribution", "with --attribution: a vendor deals file and partner touches files instead")
    a.add_argument("--attribution", action="store_true", help="write deals + touches files and their ground truth")
    a.add_argument("--deals", type=int, default=2_000, metavar="N", help="deal rows in the vendor's file (default 2000)")
    a.add_argument("--partners", type=int, default=3, metavar="P", help="partners, named partner-a, partner-b, ... (default 3)")
    a.add_argument("--touches", type=int, default=3_000, metavar="N", help="touch rows per partner (default 3000)")
    a.add_argument(
        "--style", choices=["salesforce", "hubspot"], default="salesforce", help="the deals file's CRM (default salesforce)"
    )
    a.add_argument(
        "--foreign-share", type=float, default=0.0, metavar="X", help="share of deals in EUR instead of USD (default 0)"
    )
    add_json(p)
    p.set_defaults(handler=_synth)
