"""``cleanroom``: the coordinator's command line (and the demo)."""

from __future__ import annotations

import os

# gRPC's C core logs TLS handshake details to stderr; our errors say it in one line.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from cleanroom.terminal.console import print_json, print_table
from cleanroom.terminal.malloc_arenas import limit_malloc_arenas
from cleanroom.terminal.process import run_command


def _coordinator_init(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.datadir import DataDir

    enroll_listen = getattr(args, "enroll_listen", None)
    hosts = list(dict.fromkeys(args.host)) if args.host else None
    config = DataDir(Path(args.data_dir)).init(listen=args.listen, hosts=hosts, enroll_listen=enroll_listen)
    if args.json:
        print_json({"data_dir": args.data_dir, **config})
    else:
        print(f"coordinator initialised in {args.data_dir} (CA, server certificate, signing key); listen {config['listen']}")
    return 0


def _coordinator_add_party(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.datadir import DataDir

    out = DataDir(Path(args.data_dir)).add_party(args.name, Path(args.out), args.address)
    print(f"profile for party {args.name!r} written to {out}")
    note = "its key was created here: you hold it until the profile reaches the party (`invite`: born on its machine)"
    print(note, file=sys.stderr)
    return 0


def _coordinator_serve(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.launch import serve

    return serve(args)  # the config file, environment and flags checked first (cleanroom/coordinator/config.py)


def _coordinator_config(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.launch import config_of, rows

    config = config_of(args)
    if args.json:
        print_json(config.to_dict())
    else:
        print_table(f"Effective configuration (file: {config.file or 'none'})", ["key", "value", "from"], rows(config))
    return 0


def _coordinator_check(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.datadir import DataDir
    from cleanroom.coordinator.store.integrity import check_store

    directory = DataDir(Path(args.data_dir))
    directory.config()
    found = check_store(directory.store_path)
    if args.json:
        print_json({"store": str(directory.store_path), "sound": True, **found})
    else:
        print(
            f"store {directory.store_path} reads back whole: {found['tables']} tables, {found['rows']:,} rows, {found['bytes']:,} bytes"
        )
    return 0


def _audit_export(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.audit.export import export
    from cleanroom.coordinator.datadir import DataDir

    result = export(DataDir(Path(args.data_dir)), Path(args.out), args.agreement)
    if args.json:
        print_json(result)
    else:
        print(
            f"exported {result['entries']} entries to {result['out']} (public key {result['public_key']}); head {result['head_hash']}"
        )
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from cleanroom.auditlog.anchors import check_heads, distinct, read_held_heads
    from cleanroom.auditlog.verify import load_key, verify_file

    result = verify_file(Path(args.file), Path(args.public_key))
    held = distinct([h for source in args.receipts or [] for h in read_held_heads(Path(source))])
    checks = check_heads(held, result.hashes, load_key(Path(args.public_key)))
    failed = [c for c in checks if not c.ok]
    if args.json:
        print_json(
            {
                "ok": result.ok and not failed,
                "entries": result.entries,
                "head_hash": result.head_hash,
                "problems": result.problems,
                "heads": [c.to_dict() for c in checks],
            }
        )
    else:
        _print_verification(args.file, result.ok, result.entries, result.head_hash, result.problems)
        if args.receipts:
            _print_head_checks(checks, result.entries)
    return 0 if result.ok and not failed else 1


def _print_verification(file: str, ok: bool, entries: int, head_hash: str, problems: list[dict[str, Any]]) -> None:
    if ok:
        print(f"intact: {entries} entries, head {head_hash}, checkpoint signature valid")
    else:
        print_table(f"audit log {file} is BROKEN", ["line", "problem"], [[p["line"], p["problem"]] for p in problems])


def _print_head_checks(checks: Sequence[Any], entries: int) -> None:
    if not checks:
        print("no signed audit heads in the receipts given (receipts from before audit heads?): a rollback cannot be checked")
        return
    rows = [[c.status, c.held.head.count, c.held.head.signed_at, c.held.source, c.message] for c in checks]
    rolled = sum(1 for c in checks if c.rolled_back)
    forged = sum(1 for c in checks if c.status == "forged")
    title = f"all {len(checks)} audit heads the parties hold are in this log ({entries} entries)"
    if rolled:
        title = (
            f"{rolled} of {len(checks)} audit heads the parties hold are NOT in this log ({entries} entries): it was rolled back"
        )
    elif forged:
        title = f"{forged} of {len(checks)} heads given are not signed by this coordinator: they prove nothing (receipts edited?)"
    print_table(title, ["status", "entry", "signed at", "held in", "what it means"], rows)


def _audit_report(args: argparse.Namespace) -> int:
    from cleanroom.coordinator.audit.report import disclosure_report
    from cleanroom.coordinator.datadir import DataDir

    report = disclosure_report(DataDir(Path(args.data_dir)), args.agreement)
    if args.json:
        print_json(report)
        return 0
    rows = []
    for viewer in report["viewers"]:
        for r in viewer["releases"]:
            rows.append(
                [
                    viewer["viewer"],
                    r["released_at"],
                    r["kind"],
                    r["run_id"],
                    f"v{r['terms_version']} {str(r['terms_hash'])[:12]}",
                    _summarise(r["released"]),
                ]
            )
    print_table(
        f"Disclosure report, agreement {report['agreement_id']} ({', '.join(report['parties'])}; {report['state']})",
        ["viewer", "released at", "kind", "run", "terms", "released"],
        rows,
    )
    if report["denied_requests"]:
        print_table(
            "Denied requests",
            ["party", "at", "method", "reason"],
            [[d["party"], d["at"], d.get("method"), d.get("reason")] for d in report["denied_requests"]],
        )
    return 0


def _summarise(released: dict[str, Any]) -> str:
    cells = released.get("cells") or []
    shown = ", ".join(
        f"{c['mine']}x{c['theirs']}=" + ("suppressed" if c.get("suppressed") else str(c.get("count"))) for c in cells
    )
    overlap = (released.get("totals") or {}).get("overlap")
    return f"{shown}; overlap={overlap}" if cells else str(released)[:120]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cleanroom", description="Cleanroom coordinator, audit tools and demo.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_coordinator_commands(sub)
    _add_audit_commands(sub)
    # Commands other packages plug in (the demo): found by entry point, never imported by name.
    for plugin in entry_points(group="cleanroom.commands"):
        plugin.load()(sub)
    return parser


def _add_coordinator_commands(sub: Any) -> None:
    from cleanroom.coordinator.admin.commands import add_admin_commands
    from cleanroom.coordinator.enrolment_cli import add_enrolment_commands
    from cleanroom.coordinator.limits import DEFAULT_MAX_POINTS

    coord = sub.add_parser("coordinator", help="run and administer a coordinator")
    csub = coord.add_subparsers(dest="action", metavar="ACTION", required=True)
    _add_init_command(csub)
    p = csub.add_parser("add-party", help="air-gapped setups: issue a party certificate AND key (the operator holds the key)")
    p.add_argument("name")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True, help="profile directory to write")
    p.add_argument("--address", help="coordinator address the client dials (default: the configured one)")
    p.set_defaults(handler=_coordinator_add_party)
    p = csub.add_parser("serve", help="serve gRPC (mTLS) until stopped")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--listen", help="HOST:PORT (port 0 picks a free port)")
    p.add_argument("--config", metavar="FILE", help="TOML config file (default: DATA_DIR/coordinator.toml if present)")
    p.add_argument("--max-points", type=int, help=f"largest upload accepted (default {DEFAULT_MAX_POINTS:,})")
    p.add_argument("--port-file", help="write the bound port here once serving")
    p.add_argument("--wire-log", help=argparse.SUPPRESS)  # privacy tests: log every request's raw bytes
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        nargs="?",
        const="127.0.0.1:8080",
        help="also serve the REST API (/v1) and web pages (default 127.0.0.1:8080; a bare PORT means 127.0.0.1:PORT; "
        "plain HTTP on loopback only)",
    )
    p.add_argument("--http-port-file", help="write the bound HTTP port here once serving")
    p.add_argument("--http-cert", help="TLS certificate (PEM) for --http; needed for a non-loopback address")
    p.add_argument("--http-key", help="TLS private key (PEM) for --http-cert")
    _add_serve_limits(p)
    p.set_defaults(handler=_coordinator_serve)
    _add_config_command(csub)
    add_admin_commands(csub)  # add-api-key, api-keys, status, backup, restore: serving or stopped
    p = csub.add_parser("check", help="read the store file back whole, every block checksummed (coordinator stopped)")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_coordinator_check)
    add_enrolment_commands(csub)  # invite, remove-party, and the enrolment port's flags of init and serve


def _add_init_command(csub: Any) -> None:
    from cleanroom.coordinator.datadir import DEFAULT_LISTEN

    p = csub.add_parser("init", help="create the CA, server certificate and signing key")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--listen", default=DEFAULT_LISTEN, help=f"address to serve gRPC on (default {DEFAULT_LISTEN})")
    p.add_argument(
        "--host",
        action="append",
        metavar="NAME",
        help="a name or address the server certificate is valid for (repeat; default localhost, 127.0.0.1, ::1)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_coordinator_init)


def _add_config_command(csub: Any) -> None:
    p = csub.add_parser("config", help="print the effective configuration of `serve` and where each value comes from")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--config", metavar="FILE", help="TOML config file (default: DATA_DIR/coordinator.toml if present)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_coordinator_config)


def _add_serve_limits(p: argparse.ArgumentParser) -> None:
    from cleanroom.coordinator.limits import DEFAULT_UPLOAD_IDLE_SECONDS

    p.add_argument(
        "--upload-idle-timeout",
        type=float,
        metavar="SECONDS",
        help=f"delete an upload begun and not committed after this long without a chunk (default: {DEFAULT_UPLOAD_IDLE_SECONDS:g}, a day)",
    )
    p.add_argument("--log-format", choices=["text", "json"], help="text (default) or json: one JSON object a line")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="least severe level logged (default info)")
    p.add_argument(
        "--shutdown-grace", type=float, metavar="SECONDS", help="on SIGTERM, in-flight calls get this long (default 2)"
    )
    p.add_argument(
        "--http-allowed-host",
        action="append",
        metavar="NAME",
        help="a Host header the REST API and pages answer besides the --http address (repeat; *.example.com allowed)",
    )


def _add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="export, verify and report on the audit trail")
    asub = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = asub.add_parser("export", help="write the signed audit chain as JSON Lines (+ public key)")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--agreement", help="only this agreement's entries (others appear redacted)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_audit_export)
    p = asub.add_parser("verify", help="check an exported audit log offline")
    p.add_argument("file")
    p.add_argument("--public-key", required=True, help="the coordinator's Ed25519 public key (PEM)")
    p.add_argument(
        "--receipts",
        action="extend",
        nargs="+",
        metavar="DIR",
        help="a client profile directory, its receipts.jsonl, or a heads export (`cleanroom-client receipts export-heads`): "
        "report the log shorter than, or diverging from, any signed audit head held there (several may be given)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_audit_verify)
    p = asub.add_parser("report", help="disclosure report: what was released to whom, when, under which terms")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--agreement", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_audit_report)


def main(argv: Sequence[str] | None = None) -> int:
    limit_malloc_arenas()  # first: the store, gRPC and the web server start threads
    args = build_parser().parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
