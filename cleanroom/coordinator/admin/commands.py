"""The admin commands of `cleanroom coordinator`: each one call through ``dispatch`` and its printing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cleanroom.terminal.console import print_json, print_table


def _call(args: argparse.Namespace, op: str, params: dict[str, Any]) -> dict[str, Any]:
    from cleanroom.coordinator.admin.dispatch import call
    from cleanroom.coordinator.datadir import DataDir

    return call(DataDir(Path(args.data_dir)), op, params)


def _add_api_key(args: argparse.Namespace) -> int:
    created = _call(args, "api-keys.add", {"party": args.party or "", "role": args.role, "label": args.label or ""})
    if args.json:
        print_json(created)
    else:
        print(created["key"])
        print(
            f"API key {created['key_id']} for {created['party'] or 'the operator'} ({created['role']}). It is shown only now "
            "and stored as a hash: keep it safe.",
            file=sys.stderr,
        )
    return 0


def _api_keys(args: argparse.Namespace) -> int:
    if args.revoke:
        _call(args, "api-keys.revoke", {"key_id": args.revoke})
    listed = _call(args, "api-keys.list", {"all": args.all})["api_keys"]
    if args.json:
        print_json({"api_keys": listed})
    else:
        print_table(
            "API keys",
            ["key id", "party", "role", "label", "created", "revoked"],
            [[k["key_id"], k["party"], k["role"], k["label"], k["created_at"], k["revoked_at"] or ""] for k in listed],
        )
    return 0


def _status(args: argparse.Namespace) -> int:
    found = _call(args, "status", {})
    if args.json:
        print_json(found)
        return 0
    store = found["store"]
    state = f"serving for {found['uptime_seconds']:,.0f} s (since {found['started_at']})" if found["serving"] else "stopped"
    rows = [
        ["state", state],
        ["version", found["version"]],
        ["listen", ", ".join(f"{k} {v}" for k, v in found["listen"].items() if v)],
        ["parties issued", found["parties"]],
        ["agreements", _counts(found["agreements"])],
        ["runs", _counts(found["runs"])],
        ["uploads", _counts(found["uploads"])],
        ["active API keys", found["api_keys_active"]],
        ["audit entries", found["audit_entries"]],
        [
            "store",
            f"{store['file_bytes']:,} bytes ({store['free_blocks']} of {store['blocks']} blocks free), WAL {store['wal_bytes']:,}",
        ],
        ["store file", store["problem"] or "sound"],
    ]
    print_table(f"Coordinator {found['data_dir']}", ["", ""], rows)
    return 0


def _counts(by_state: dict[str, int]) -> str:
    rest = ", ".join(f"{n} {state}" for state, n in by_state.items() if state != "total")
    return f"{by_state['total']}" + (f" ({rest})" if rest else "")


def _backup(args: argparse.Namespace) -> int:
    done = _call(args, "backup", {"out": str(Path(args.out).absolute())})
    if args.json:
        print_json(done)
    else:
        print(
            f"backup written to {done['out']}: {done['bytes']:,} bytes, {len(done['files'])} files, "
            f"{done['audit_entries']} audit entries; the store copied compact ({done['copied_store_bytes']:,} bytes, "
            f"{done['store_bytes']:,} in the data dir). It holds the CA, server and signing private keys: keep it as "
            "secret as the data dir."
        )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.admin.restore import restore

    done = restore(Path(args.from_file), Path(args.data_dir))
    if args.json:
        print_json(done)
    else:
        print(
            f"restored {len(done['files'])} files into {done['data_dir']}; its store reads back whole ({done['tables']} "
            f"tables, {done['rows']:,} rows, {done['bytes']:,} bytes). Serve it: cleanroom coordinator serve --data-dir "
            f"{done['data_dir']}"
        )
    # The store is as it was at the backup: what the operator did since is not in it.
    print(
        "note: parties removed, API keys revoked and invitations made after this backup are not in it: "
        "run remove-party and api-keys --revoke again for them before serving",
        file=sys.stderr,
    )
    return 0


def add_admin_commands(csub: Any) -> None:
    """Add the admin commands to `cleanroom coordinator`'s sub-commands."""
    p = csub.add_parser("add-api-key", help="create a REST/web API key (printed once, stored hashed), serving or stopped")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--party", help="the party the key acts for (required for analyst and auditor)")
    p.add_argument(
        "--role",
        required=True,
        choices=["analyst", "auditor", "admin"],
        help="analyst: its party's releases; auditor: audit trail and disclosure reports of its party's agreements; admin: all",
    )
    p.add_argument("--label", help="a note on whose key it is")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_add_api_key)
    p = csub.add_parser("api-keys", help="list API keys, or revoke one (serving or stopped)")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--revoke", metavar="KEY_ID", help="revoke this key")
    p.add_argument("--all", action="store_true", help="include revoked keys")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_api_keys)
    p = csub.add_parser("status", help="version, uptime, listen addresses, counts and store size (serving or stopped)")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_status)
    p = csub.add_parser("backup", help="write a consistent, compact backup of store, keys and config (serving or stopped)")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True, help="the bundle to write (a new file, outside the data dir; 0600)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_backup)
    p = csub.add_parser("restore", help="restore a backup into a new, empty data dir")
    p.add_argument("--from", dest="from_file", required=True, metavar="FILE", help="the bundle `backup` wrote")
    p.add_argument("--data-dir", required=True, help="the new data dir (must not exist, or be empty)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_restore)
