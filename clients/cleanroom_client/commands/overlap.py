"""``cleanroom-client overlap ID``: the overlap released to us for an agreement."""

from __future__ import annotations

import argparse

from cleanroom.terminal.console import print_json
from cleanroom.terminal.views import print_overlap
from cleanroom_client.commands._common import add_json, print_alerts, session
from cleanroom_client.features.release_intake import receive_overlap


def _overlap(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        view = receive_overlap(remote, profile, args.id, args.run or "")
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
