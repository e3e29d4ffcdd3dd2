"""``cleanroom-client targets [AGREEMENT | --all]``: co-sell targets, ranked.

Our own accounts that a partner also has on population pairs the terms
reveal, joined back locally to our names, domains, stages and amounts, with
the partner's populations and shared fields (opened here: the coordinator
forwards them sealed), ranked by the score in features/targets.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from cleanroom.errors import InputError
from cleanroom.terminal.console import err, out, print_json, print_table
from cleanroom_client.commands._common import add_json, receipts, session
from cleanroom_client.features.gather import collect
from cleanroom_client.features.targets import ScoringConfig, ranked, write_csv


def _as_of(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not an ISO date (YYYY-MM-DD)") from None


def _targets(args: argparse.Namespace) -> int:
    if args.agreement and args.all:
        raise InputError("name one agreement or --all, not both")
    config = ScoringConfig.load(Path(args.scoring) if args.scoring else None)
    with session(args) as (profile, remote):
        revealed, notes = collect(remote, profile, receipts(profile), only=args.agreement)
    targets = ranked(revealed, config, _as_of(args.as_of), args.agreement, args.partner)
    total = len(targets)
    if args.top is not None:
        targets = targets[: args.top]
    if args.csv:
        write_csv(targets, Path(args.csv))
    if args.json:
        print_json(
            {
                "targets": targets,
                "total": total,
                "agreements": [
                    {
                        "agreement_id": r.agreement_id,
                        "partner": r.partner,
                        "run_id": r.run_id,
                        "revealed": len(r.rows),
                        "partner_shares": list(r.share),
                        "released_at": r.release["released_at"],
                    }
                    for r in revealed
                ],
                "scoring": config.to_dict(),
                "notes": notes,
            }
        )
        return 0
    for note in notes:
        err.print(f"note: {note}", markup=False)
    shown = f"top {len(targets)} of {total}" if len(targets) < total else f"{total}"
    print_table(
        f"Co-sell targets ({shown}, best first)",
        ["#", "score", "account", "domain", "mine", "partner", "theirs", "partner's fields"],
        [
            [
                t["rank"],
                f"{t['score']:.1f}",
                t["account"],
                t["domain"],
                ", ".join(t["my_populations"]),
                t["partner"],
                ", ".join(t["partner_populations"]),
                "; ".join(f"{k}: {v}" for k, v in t["partner_fields"].items() if v not in (None, "")),
            ]
            for t in targets
        ],
    )
    if args.csv:
        out.print(f"wrote {len(targets):,} targets to {args.csv}", markup=False)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("targets", help="co-sell targets: your accounts a partner also has, with its shared fields, ranked")
    p.add_argument("agreement", nargs="?", help="one agreement (default: every agreement that reveals accounts to you)")
    p.add_argument("--all", action="store_true", help="every agreement that reveals accounts to you (the default)")
    p.add_argument("--top", type=_positive, metavar="N", help="only the N best")
    p.add_argument("--csv", metavar="FILE", help="also write the targets to FILE (CSV, ready to import into a CRM)")
    p.add_argument("--partner", metavar="PARTY", help="only this partner's targets")
    p.add_argument("--scoring", metavar="FILE", help="JSON file overriding the score's weights and values (see the docs)")
    p.add_argument("--as-of", metavar="DATE", help="judge partner activity recency at this date (default today)")
    add_json(p)
    p.set_defaults(handler=_targets)


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n
