"""``cleanroom-client sync [ID]``: re-blind whatever peer points wait for us, and (without ID) serve the
deal-registration checks queued on the programs we run."""

from __future__ import annotations

import argparse

from cleanroom.terminal.console import err, out, print_json
from cleanroom_client.commands._common import add_json, print_alerts, session
from cleanroom_client.features.registration_serving import Served, serve_all
from cleanroom_client.features.release_intake import sync_alerts
from cleanroom_client.protocol.reblind import sync_agreements


def _sync(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        report = sync_agreements(remote, profile, args.id, args.wait)
        sent = sync_alerts(remote, profile, report)
        served = [] if args.id else serve_all(remote, profile)
    views = [s.view() if isinstance(s, Served) else {"program_id": s[0], "error": str(s[1])} for s in served]
    if args.json:
        print_json({"agreements": report, **({"alerts": sent} if sent else {}), **({"registrations": views} if views else {})})
    else:
        for r in report:
            waiting = ", ".join(r["waiting_for"]) or "nothing"
            out.print(f"{r['agreement_id']} ({r['purpose']}): run {r['run_id'] or '-'} {r['state']}; waiting for {waiting}")
        print_alerts({"alerts": sent})
        for done in served:
            if not isinstance(done, Served):
                err.print(f"registration program {done[0]}: {done[1]}", markup=False)
                continue
            for r in done.refused:
                err.print(f"REFUSED request {r['request_id']} from {r['partner']}: {r['reason']}", markup=False)
            for partner, fp in done.pinned.items():
                err.print(f"pinned {partner}'s request-signing key on first use: {fp}", markup=False)
            if done.evaluated:
                out.print(f"registration program {done.program_id}: evaluated {sum(done.evaluated.values())} request(s)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sync", help="re-blind partner points waiting for you, and serve deal-registration checks (for scheduled runs)"
    )
    p.add_argument("id", nargs="?", help="agreement id (default: every active agreement)")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep re-blinding what the partner uploads until the run completes or SECONDS pass",
    )
    add_json(p)
    p.set_defaults(handler=_sync)
