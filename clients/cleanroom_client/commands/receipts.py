"""``cleanroom-client receipts [verify | export-heads]``: what left this machine, and the coordinator's word on it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cleanroom.auditlog.anchors import HeadCheck
from cleanroom.errors import InputError
from cleanroom.terminal.console import out, print_json, print_table
from cleanroom_client.commands._common import add_json, receipts
from cleanroom_client.profile import Profile
from cleanroom_client.protocol import heads
from cleanroom_client.protocol.receipts import alert_row, release_of, upload_kind, verify_entries
from cleanroom_client.remote import Remote


def _as_object(entry: dict[str, Any]) -> dict[str, Any]:
    """One shape for machines: a release kept as its signed text is shown parsed, like the others."""
    if "body_json" not in entry:
        return entry
    shown = {"type": entry["type"], "recorded_at": entry["recorded_at"], "release": release_of(entry)}
    return {**shown, "audit_head": entry["audit_head"]} if "audit_head" in entry else shown


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
        elif e["type"] == "alert":
            rows.append([e["recorded_at"], "alert", *alert_row(e["alert"])])
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
    log = receipts(profile)
    entries = log.entries()
    problems = verify_entries(entries, key)
    checks: list[HeadCheck] = []
    if args.against_coordinator:
        kept = heads.held(log)
        with Remote(profile) as remote:
            checks = heads.against_coordinator(kept, remote.head_proof([h.head.count for h in kept]), key)
    failed = [c for c in checks if not c.ok]
    headless = sum(1 for e in entries if e.get("audit_head") is None and e.get("type") != "alert")
    if args.json:
        result: dict[str, Any] = {
            "ok": not problems and not failed,
            "receipts": len(entries),
            "problems": problems,
            "without_audit_head": headless,
        }
        if args.against_coordinator:
            result["heads"] = [c.to_dict() for c in checks]
        print_json(result)
        return 1 if problems or failed else 0
    if problems:
        print_table("Receipts that do NOT verify", ["#", "problem"], [[p["index"], p["problem"]] for p in problems])
    else:
        out.print(f"all {len(entries)} receipts verify: coordinator signatures valid, digests match what this client sent")
    if headless:
        out.print(
            f"{headless} receipt(s) carry no signed audit head (made before audit heads, or the coordinator sent none): "
            "they cannot show a rolled-back audit log"
        )
    if args.against_coordinator:
        _print_checks(checks)
    return 1 if problems or failed else 0


def _print_checks(checks: list[HeadCheck]) -> None:
    if not checks:
        out.print("no audit heads kept yet: nothing to check the coordinator's log against")
        return
    bad = [c for c in checks if not c.ok]
    if not bad:
        out.print(f"the coordinator's audit log still holds all {len(checks)} heads kept here")
        return
    rolled = sum(1 for c in bad if c.rolled_back)
    print_table(
        f"{rolled} of {len(checks)} audit heads kept here are NOT in the coordinator's log: it was rolled back"
        if rolled
        else f"{len(bad)} of {len(checks)} heads kept here are not signed by the coordinator: the receipts were edited",
        ["status", "entry", "signed at", "kept in", "what it means"],
        [[c.status, c.held.head.count, c.held.head.signed_at, c.held.source, c.message] for c in bad],
    )


def _export_heads(args: argparse.Namespace) -> int:
    if args.newest is not None and args.newest < 1:
        raise InputError(f"--newest must be 1 or more (got {args.newest})")
    profile = Profile.load(args.profile)
    document = heads.heads_export(receipts(profile), profile.party, args.newest)
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    if args.out in (None, "-"):
        sys.stdout.write(text)
        return 0
    Path(args.out).write_text(text, encoding="utf-8")
    out.print(
        f"{len(document['heads'])} signed audit heads written to {args.out}: hand it to your auditor "
        f"(`cleanroom audit verify EXPORT --public-key KEY --receipts {args.out}`, or POST it to /v1/audit/verification)"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("receipts", help="list (or verify) what this client sent and received")
    add_json(parser)
    parser.set_defaults(handler=_list)
    rsub = parser.add_subparsers(dest="action", metavar="ACTION")
    p = rsub.add_parser("verify", help="check every receipt's signature and digests")
    p.add_argument(
        "--against-coordinator",
        action="store_true",
        help="also ask the coordinator for its current signed audit head and check every head kept here against its log",
    )
    add_json(p)
    p.set_defaults(handler=_verify)
    p = rsub.add_parser("export-heads", help="write the signed audit heads kept here, for an auditor (no release contents)")
    p.add_argument("--out", help="file to write (default: standard output)")
    p.add_argument("--newest", type=int, help="only the newest N distinct heads (the REST check takes up to 150)")
    p.set_defaults(handler=_export_heads)
