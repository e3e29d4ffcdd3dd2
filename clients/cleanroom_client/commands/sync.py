"""``cleanroom-client sync [ID]``: re-blind whatever peer points wait for us."""

from __future__ import annotations

import argparse

from cleanroom.terminal.console import out, print_json
from cleanroom_client.commands._common import add_json, keystore, receipts, session
from cleanroom_client.protocol.agreements import verified_terms
from cleanroom_client.protocol.reblind import sync, wait_for_result


def _sync(args: argparse.Namespace) -> int:
    report = []
    with session(args) as (profile, remote):
        agreements = [remote.get(args.id)] if args.id else [a for a in remote.list() if a.state == "active"]
        for agreement in agreements:
            terms = verified_terms(agreement)
            for purpose in ("overlap", "attribution") if terms.attribution else ("overlap",):
                status = sync(remote, agreement, keystore(profile), receipts(profile), purpose=purpose)
                if status.state == "none" and purpose == "attribution":
                    continue
                if args.wait > 0 and status.state == "collecting":
                    # Keep re-blinding what arrives until the run completes or time is up.
                    status = wait_for_result(remote, agreement, keystore(profile), receipts(profile), status.run_id, args.wait)
                report.append({"agreement_id": agreement.agreement_id, "purpose": purpose, "run_id": status.run_id,
                               "state": status.state, "waiting_for": list(status.waiting_for)})
    if args.json:
        print_json({"agreements": report})
    else:
        for r in report:
            waiting = ", ".join(r["waiting_for"]) or "nothing"
            out.print(f"{r['agreement_id']} ({r['purpose']}): run {r['run_id'] or '-'} {r['state']}; waiting for {waiting}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sync", help="re-blind partner points waiting for you (for scheduled runs)")
    p.add_argument("id", nargs="?", help="agreement id (default: every active agreement)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="keep re-blinding what the partner uploads until the run completes or SECONDS pass")
    add_json(p)
    p.set_defaults(handler=_sync)
