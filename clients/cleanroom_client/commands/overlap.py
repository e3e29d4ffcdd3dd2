"""``cleanroom-client overlap ID``: the overlap released to us for an agreement."""

from __future__ import annotations

import argparse

from cleanroom.terminal.console import print_json
from cleanroom.terminal.views import print_overlap
from cleanroom_client.commands._common import add_json, print_alerts, receipts, session
from cleanroom_client.features import alerts
from cleanroom_client.features.overlap_view import verified_overlap


def _overlap(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        release = remote.overlap(args.id, args.run or "")
        view = verified_overlap(release, profile.signing_key())
        log = receipts(profile)
        watched = alerts.configured(profile)
        changes = alerts.overlap_changes(log.entries(), view) if watched else None  # counts only: no reveal here
        log.record_release(view, release.audit_head)
        if watched:
            view["alerts"] = alerts.send(profile, log, changes)
    if args.json:
        print_json(view)
    else:
        print_overlap(view)
        print_alerts(view)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("overlap", help="show the overlap released to you")
    p.add_argument("id", help="agreement id")
    p.add_argument("--run", help="a specific run (default: the latest complete one)")
    add_json(p)
    p.set_defaults(handler=_overlap)
