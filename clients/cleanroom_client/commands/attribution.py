"""``cleanroom-client attribution touches|run|show``: credit partners on matched deals.

Partner: ``attribution touches AGREEMENT FILE`` uploads its touchpoints.
Vendor: ``attribution run --agreements ID[,ID...] --deals FILE`` uploads its
deals under every named agreement, re-blinds each partner's touches, waits
for the partners' re-blinding, then asks for one attribution job over all of
them and joins the per-deal credit back to its own Opportunity IDs, locally.
"""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from cleanroom.attribution.config import MODELS
from cleanroom.errors import InputError
from cleanroom.terminal.console import err, out, print_json, print_table
from cleanroom.terminal.views import print_partner_credit
from cleanroom_client.commands._common import add_json, session
from cleanroom_client.commands._engine import add_engine_options
from cleanroom_client.commands._read_report import print_read_report
from cleanroom_client.features import attribution
from cleanroom_client.features.attribution_view import check_as_of, load_plan, period, vendor_view
from cleanroom_client.inputs.deals import DealsResult, load_deals
from cleanroom_client.inputs.touches import load_touches

# -- partner ---------------------------------------------------------------------


def _touches(args: argparse.Namespace) -> int:
    loaded = load_touches(
        Path(args.file),
        key_column=args.key_column,
        name_column=args.name_column,
        role_column=args.role_column,
        date_column=args.date_column,
    )
    with session(args) as (profile, remote):
        ready = attribution.ready_touches(remote, profile, args.id, loaded)
        if not args.json:
            print_read_report(loaded.source, loaded.read)
            err.print(
                f"{loaded.source}: {loaded.rows_read:,} rows -> {len(ready.sent):,} touches on {ready.prepared.total_accounts:,} accounts "
                f"({len(loaded.rejected):,} rows rejected)"
            )
        status = attribution.send_touches(remote, profile, ready, args.wait)
    agreement, vendor = ready.agreement, ready.terms.vendor
    report = {
        "agreement_id": agreement.agreement_id,
        "run_id": status.run_id,
        "state": status.state,
        "touches": len(ready.sent),
        "accounts": ready.prepared.total_accounts,
        "waiting_for": list(status.waiting_for),
        "read": {"file": str(loaded.source), **loaded.read.describe()},
    }
    if args.json:
        print_json(report)
    elif status.state == "complete":
        out.print(
            f"touches matched against {vendor}'s deals (run {status.run_id}); "
            f"`cleanroom-client attribution show {agreement.agreement_id}` once {vendor} runs attribution"
        )
    else:
        out.print(
            f"uploaded {len(ready.sent):,} touches to run {status.run_id}; still waiting for {', '.join(status.waiting_for)}; "
            f"`cleanroom-client sync` re-blinds {vendor}'s deals when they arrive"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        release = attribution.show(remote, profile, args.id)
    if args.json:
        print_json(release)
    elif release["viewer"] == profile.party and "partners" in release:
        _print_vendor(release, {})
    else:
        _print_partner(release)
    return 0


def _print_partner(release: dict[str, Any]) -> None:
    def cell(value: Any) -> Any:
        if isinstance(value, dict) and value.get("suppressed"):
            return f"suppressed ({value['reason']})"
        if isinstance(value, float):
            return f"{value:.1%}"
        return "-" if value is None else value

    fields = [
        k for k in ("credited_won", "credited_open", "deals_sourced", "deals_influenced", "win_rate_influenced") if k in release
    ]
    print_table(
        f"Attribution released to {release['viewer']} ({release['model']}, as of {release['as_of']})",
        ["figure", "value"],
        [[f, cell(release[f])] for f in fields] + [["currency", release.get("currency") or "-"]],
    )


# -- vendor ----------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    ids = [a.strip() for a in args.agreements.split(",") if a.strip()]
    if not ids:
        raise InputError("--agreements needs at least one agreement id")
    check_as_of(args.as_of)
    plan = load_plan(args.commission_plan)
    if plan is not None and args.period:
        period(args.period, date.today())  # a bad --period fails now, not after the job has been released
    with session(args) as (profile, remote):
        checked, _ = attribution.checked_agreements(remote, profile, ids, args.model)
        run = attribution.upload_deals(remote, profile, checked, lambda: _load_deals(args))
        if not args.json:
            print_read_report(run.loaded.source, run.loaded.read)
            err.print(
                f"{run.loaded.source}: {run.loaded.rows_read:,} rows -> {len(run.sent):,} deals uploaded to {len(run.runs)} agreement(s) "
                f"({len(run.loaded.rejected):,} rows without a usable key)"
            )
        waiting = attribution.still_waiting(remote, profile, run, args.wait)
        if waiting:
            _print_waiting(waiting, args.json)
            return 0
        release = attribution.credit(remote, profile, run, args.model, args.as_of)
    view = vendor_view(release, run.loaded.deals, plan, args.period)
    if args.json:
        print_json({**view, "read": {"file": str(run.loaded.source), **run.loaded.read.describe()}})
    else:
        _print_vendor(release, view)
    return 0


def _print_waiting(waiting: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json({"state": "waiting", "waiting": waiting})
        return
    for w in waiting:
        out.print(f"{w['agreement_id']} ({w['partner']}): still waiting for {', '.join(w['waiting_for'])}")
    out.print("run the same command again later; uploads already made are not repeated.")


def _load_deals(args: argparse.Namespace) -> DealsResult:
    return load_deals(
        Path(args.deals),
        key_column=args.key_column,
        name_column=args.name_column,
        id_column=args.id_column,
        amount_column=args.amount_column,
        stage_column=args.stage_column,
        created_column=args.created_column,
        close_column=args.close_column,
        type_column=args.type_column,
        stage_map=args.stage_map,
        default_currency=args.currency,
    )


def _print_vendor(release: dict[str, Any], view: dict[str, Any]) -> None:
    print_partner_credit(release)
    deals = view.get("deals") or [{**d, "deal_id": f"ref {d['ref']}"} for d in release["deals"]]
    credited = [d for d in deals if d["credits"]]
    credited.sort(key=lambda d: -Decimal(d["amount"]))
    print_table(
        f"Top credited deals ({min(10, len(credited))} of {len(credited)})",
        ["deal", "amount", "currency", "credits"],
        [
            [d["deal_id"], d["amount"], d["currency"], ", ".join(f"{p} {a}" for p, a in sorted(d["credits"].items()))]
            for d in credited[:10]
        ],
    )
    m = release["metrics"]
    rows: list[list[Any]] = []
    for k, v in m.items():
        if isinstance(v, dict):
            rows.extend([f"{k} ({sub.replace('_', ' ')})", _fmt(x)] for sub, x in v.items())
        else:
            rows.append([k, _fmt(v)])
    print_table("Ecosystem metrics", ["metric", "value"], rows)
    for statement in view.get("commissions", []):
        out.print(
            f"commission {statement['partner']} {statement['period']['start']}..{statement['period']['end']}: "
            f"{statement['total']} {statement['currency'] or ''} ({len(statement['lines'])} lines)"
        )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("attribution", help="credit partners on matched deals (touches, run, show)")
    asub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = asub.add_parser("touches", help="partner: upload your touchpoints under an agreement")
    p.add_argument("id", help="agreement id")
    p.add_argument("file", help="CSV, Parquet or XLSX of touchpoints (account website/domain, role, date)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long, re-blinding the vendor's deals")
    p.add_argument("--key-column")
    p.add_argument("--name-column")
    p.add_argument("--role-column")
    p.add_argument("--date-column")
    add_json(p)
    p.set_defaults(handler=_touches)

    p = asub.add_parser("run", help="vendor: credit your deals against every named partner's touches")
    p.add_argument("--agreements", required=True, metavar="ID[,ID...]", help="one agreement per partner")
    p.add_argument("--deals", required=True, metavar="FILE", help="opportunity/deal export (Salesforce or HubSpot)")
    p.add_argument("--model", choices=MODELS, help="default: the model the terms agree")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for the partners' re-blinding")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="judge open deals at this past date (default today)")
    p.add_argument("--commission-plan", metavar="FILE", help="JSON plan: percentage, fixed-fee, tiered or hybrid")
    p.add_argument("--period", help="commission period, YYYY-MM or YYYY-Qn (default: the current quarter)")
    p.add_argument("--currency", default="USD", help="currency of amounts without one (default USD)")
    for column in ("key", "name", "id", "amount", "stage", "created", "close", "type"):
        p.add_argument(f"--{column}-column")
    p.add_argument("--stage-map", metavar="FILE", help="JSON mapping extra stage values to won/lost/open")
    add_engine_options(p)
    add_json(p)
    p.set_defaults(handler=_run)

    p = asub.add_parser("show", help="what attribution released to you under an agreement")
    p.add_argument("id", help="agreement id")
    add_json(p)
    p.set_defaults(handler=_show)
