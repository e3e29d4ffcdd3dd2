"""``cleanroom-client alerts add | list | remove``: where to send a signed alert when a release changes."""

from __future__ import annotations

import argparse
from typing import Any

from cleanroom.terminal.console import err, out, print_json, print_table
from cleanroom_client.commands._common import add_json
from cleanroom_client.features.alert_messages import FORMATS
from cleanroom_client.features.alert_store import AlertStore
from cleanroom_client.profile import Profile


def _public(receiver: dict[str, Any], pending: int) -> dict[str, Any]:
    """A receiver as listed: never its secret (shown once, by ``add``)."""
    return {k: receiver[k] for k in ("id", "url", "format", "added_at")} | {"pending": pending}


def _add(args: argparse.Namespace) -> int:
    store = AlertStore.of(Profile.load(args.profile).path)
    receiver = store.add(args.url, args.format)
    if args.json:
        print_json({**_public(receiver, 0), "secret": receiver["secret"]})
    else:
        out.print(f"alert receiver {receiver['id']} added: {receiver['url']} ({receiver['format']})", markup=False)
        out.print(
            f"signing secret (shown once; verify each delivery's webhook-signature with it): {receiver['secret']}",
            markup=False,
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    store = AlertStore.of(Profile.load(args.profile).path)
    listed = [_public(r, sum(1 for p in store.pending if p["receiver_id"] == r["id"])) for r in store.receivers]
    if args.json:
        print_json({"receivers": listed})
    elif not listed:
        out.print("no alert receivers: cleanroom-client alerts add --url URL")
    else:
        rows = [[r["id"], r["url"], r["format"], r["added_at"], str(r["pending"])] for r in listed]
        print_table("Alert receivers", ["id", "url", "format", "added", "pending deliveries"], rows)
    return 0


def _remove(args: argparse.Namespace) -> int:
    removed = AlertStore.of(Profile.load(args.profile).path).remove(args.receiver_id)
    if args.json:
        print_json({"removed": _public(removed, 0)})
    else:
        err.print(f"alert receiver {removed['id']} ({removed['url']}) removed, with its pending deliveries", markup=False)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="signed alerts (webhooks) when a release of an agreement changes")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a receiver; prints its signing secret once")
    add.add_argument("--url", required=True, help="http(s) URL the alerts are POSTed to")
    add.add_argument("--format", choices=FORMATS, default="json", help='our JSON object, or Slack-compatible {"text": ...}')
    add_json(add)
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="the receivers and their pending deliveries (never the secrets)")
    add_json(listing)
    listing.set_defaults(handler=_list)
    remove = actions.add_parser("remove", help="remove a receiver and its pending deliveries")
    remove.add_argument("receiver_id", metavar="ID")
    add_json(remove)
    remove.set_defaults(handler=_remove)
