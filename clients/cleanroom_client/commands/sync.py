"""``cleanroom-client sync [ID]``: re-blind whatever peer points wait for us."""

from __future__ import annotations

import argparse

from cleanroom.terminal.console import out, print_json
from cleanroom_client.commands._common import add_json, print_alerts, session
from cleanroom_client.commands._engine import add_engine_options
from cleanroom_client.features.release_intake import sync_alerts
from cleanroom_client.protocol.reblind import sync_agreements


def _sync(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        report = sync_agreements(remote, profile, args.id, args.wait)
        sent = sync_alerts(remote, profile, report)
    if args.json:
        print_json({"agreements": report, **({"alerts": sent} if sent else {})})
    else:
        for r in report:
            waiting = ", ".join(r["waiting_for"]) or "nothing"
            out.print(f"{r['agreement_id']} ({r['purpose']}): run {r['run_id'] or '-'} {r['state']}; waiting for {waiting}")
        print_alerts({"alerts": sent})
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sync", help="re-blind partner points waiting for you (for scheduled runs)")
    p.add_argument("id", nargs="?", help="agreement id (default: every active agreement)")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep re-blinding what the partner uploads until the run completes or SECONDS pass",
    )
    add_engine_options(p)
    add_json(p)
    p.set_defaults(handler=_sync)
