"""``cleanroom-client receipts [verify]``: what left this machine, and the coordinator's word on it."""

from __future__ import annotations

import argparse
from typing import Any

from cleanroom.errors import InputError
from cleanroom.terminal.console import out, print_json, print_table
from cleanroom_client.commands._common import add_json, receipts
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.receipts import release_of, upload_kind, verify_entries


def _as_object(entry: dict[str, Any]) -> dict[str, Any]:
    """One shape for machines: a release kept as its signed text is shown parsed, like the others."""
    if "body_json" not in entry:
        return entry
    return {"type": entry["type"], "recorded_at": entry["recorded_at"], "release": release_of(entry)}


def _list(args: argparse.Namespace) -> int:
    entries = receipts(Profile.load(args.profile)).entries()
    if args.json:
        print_json({"receipts": [_as_object(e) for e in entries]})
        return 0
    rows = []
    for e in entries:
        if e["type"] == "upload":
            r = e["receipt"]
            rows.append(
                [
                    e["recorded_at"],
                    "sent",
                    r["agreement_id"],
                    r["run_id"],
                    f"{upload_kind(r)}: {int(r['total_points']):,} points in {r['total_chunks']} chunks",
                    r["upload_digest"][:16],
                ]
            )
        else:
            rel = release_of(e)
            if rel.get("kind") == "reveal":
                rows.append(
                    [
                        e["recorded_at"],
                        "received",
                        rel["agreement_id"],
                        rel["run_id"],
                        f"account-level reveal ({rel['rows']:,} accounts, fields sealed)",
                        rel.get("signature", "")[:16],
                    ]
                )
                continue
            if rel.get("kind") == "attribution":
                where = rel.get("agreement_id") or ", ".join(a["agreement_id"] for a in rel.get("agreements", []))
                what = (
                    f"attribution release ({rel['model']}, {len(rel['deals'])} deals)"
                    if "deals" in rel
                    else f"attribution release ({rel['model']})"
                )
                rows.append([e["recorded_at"], "received", where, rel.get("run_id", "-"), what, rel.get("signature", "")[:16]])
                continue
            rows.append(
                [
                    e["recorded_at"],
                    "received",
                    rel["agreement_id"],
                    rel["run_id"],
                    f"overlap release ({len(rel['cells'])} cells)",
                    rel.get("signature", "")[:16],
                ]
            )
    print_table("Receipts", ["recorded", "direction", "agreement", "run", "what", "digest/signature"], rows)
    return 0


def _verify(args: argparse.Namespace) -> int:
    profile = Profile.load(args.profile)
    key = profile.signing_public_key
    if key is None:
        raise InputError(f"profile {profile.path} has no coordinator-signing.pub; cannot check signatures")
    entries = receipts(profile).entries()
    problems = verify_entries(entries, key)
    if args.json:
        print_json({"ok": not problems, "receipts": len(entries), "problems": problems})
    elif problems:
        print_table("Receipts that do NOT verify", ["#", "problem"], [[p["index"], p["problem"]] for p in problems])
    else:
        out.print(f"all {len(entries)} receipts verify: coordinator signatures valid, digests match what this client sent")
    return 1 if problems else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("receipts", help="list (or verify) what this client sent and received")
    add_json(parser)
    parser.set_defaults(handler=_list)
    rsub = parser.add_subparsers(dest="action", metavar="ACTION")
    p = rsub.add_parser("verify", help="check every receipt's signature and digests")
    add_json(p)
    p.set_defaults(handler=_verify)
