"""``cleanroom-client value AGREEMENT [--run RUN]``: the pipeline value released to us, decrypted here."""

from __future__ import annotations

import argparse

from cleanroom.terminal.console import print_json
from cleanroom_client.commands._common import add_json, receipts, session
from cleanroom_client.commands.map import print_value
from cleanroom_client.features.pipeline_value import read_value


def _value(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        view = read_value(remote, profile, remote.get(args.agreement), receipts(profile), args.run or "")
    if args.json:
        print_json(view)
    else:
        print_value({"pipeline_value": view})
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("value", help="the pipeline value released to you: per cell, the count and the sum of your amounts")
    p.add_argument("agreement", help="agreement id")
    p.add_argument("--run", help="a complete run (default: the latest)")
    add_json(p)
    p.set_defaults(handler=_value)
