"""``cleanroom-client attribution touches|run|show``: credit partners on matched deals.

Partner: ``attribution touches AGREEMENT FILE`` uploads its touchpoints.
Vendor: ``attribution run --agreements ID[,ID...] --deals FILE`` uploads its
deals under every named agreement, re-blinds each partner's touches, waits
for the partners' re-blinding, then asks for one attribution job over all of
them and joins the per-deal credit back to its own Opportunity IDs, locally.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from cleanroom.attribution import DealCredit, commission_statement, month_period, parse_plan, quarter_period
from cleanroom.attribution.config import MODELS
from cleanroom.attribution.records import Deal
from cleanroom.terminal.console import err, out, print_json, print_table, working
from cleanroom.errors import FailedPrecondition, InputError, PermissionDenied, ProtocolError
from cleanroom.crypto.signing import verify_bytes
from cleanroom.terminal.views import print_partner_credit
from cleanroom_client.protocol.attribution_upload import deal_records, prepare_records, touch_records
from cleanroom_client.commands._common import add_json, keystore, receipts, session
from cleanroom_client.inputs.deals import load_deals
from cleanroom_client.protocol.mapping import (
    reblinding_waiting, require_runnable, upload_own, upload_waiting, verified_terms, wait_for_result, wait_for_results,
)
from cleanroom_client.inputs.touches import load_touches

PURPOSE = "attribution"


def _attribution_terms(agreement, party: str, role: str):
    terms = verified_terms(agreement)
    require_runnable(agreement)
    if terms.attribution is None:
        raise FailedPrecondition(f"agreement {agreement.agreement_id} does not include attribution; propose terms with --attribution")
    if role == "vendor" and terms.vendor != party:
        raise PermissionDenied(f"in agreement {agreement.agreement_id} {terms.vendor} is the vendor; you upload touches with `attribution touches`")
    if role == "partner" and terms.vendor == party:
        raise PermissionDenied(f"you are the vendor in agreement {agreement.agreement_id}; run `attribution run --deals FILE`")
    return terms


def _public_key(profile) -> bytes:
    key = profile.signing_public_key
    if key is None:
        raise InputError(f"profile {profile.path} has no coordinator-signing.pub; cannot check the release's signature")
    return key


def _received(release, public_pem: bytes, log) -> dict[str, Any]:
    """Check a release's signature, keep it in the receipts exactly as signed, and parse it."""
    # The coordinator signs the exact bytes of body_json: check those, before parsing anything.
    if not verify_bytes(public_pem, release.body_json.encode("utf-8"), release.signature):
        raise ProtocolError("the attribution release's signature does not verify against the coordinator's key; refusing it")
    log.record_signed_release(release.body_json, release.signature)
    body = json.loads(release.body_json)
    return {**body, "signature": release.signature.hex()}


# -- partner ---------------------------------------------------------------------


def _touches(args: argparse.Namespace) -> int:
    loaded = load_touches(Path(args.file), key_column=args.key_column, name_column=args.name_column,
                          role_column=args.role_column, date_column=args.date_column)
    with session(args) as (profile, remote):
        agreement = remote.get(args.id)
        terms = _attribution_terms(agreement, profile.party, "partner")
        keys, log = keystore(profile), receipts(profile)
        prepared, sent = prepare_records(touch_records(loaded.touches), terms, profile.party, agreement.agreement_id,
                                         keys.secret(agreement.agreement_id))
        if not args.json:
            err.print(f"{loaded.source}: {loaded.rows_read:,} rows -> {len(sent):,} touches on {prepared.total_accounts:,} accounts "
                      f"({len(loaded.rejected):,} rows rejected)")
        receipt = upload_own(remote, agreement, prepared, log, purpose=PURPOSE)
        status = wait_for_result(remote, agreement, keys, log, receipt.run_id, args.wait)
    report = {"agreement_id": agreement.agreement_id, "run_id": status.run_id, "state": status.state,
              "touches": len(sent), "accounts": prepared.total_accounts, "waiting_for": list(status.waiting_for)}
    if args.json:
        print_json(report)
    elif status.state == "complete":
        out.print(f"touches matched against {terms.vendor}'s deals (run {status.run_id}); "
                  f"`cleanroom-client attribution show {agreement.agreement_id}` once {terms.vendor} runs attribution")
    else:
        out.print(f"uploaded {len(sent):,} touches to run {status.run_id}; still waiting for {', '.join(status.waiting_for)}; "
                  f"`cleanroom-client sync` re-blinds {terms.vendor}'s deals when they arrive")
    return 0


def _show(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        release = _received(remote.show_attribution(args.id), _public_key(profile), receipts(profile))
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

    fields = [k for k in ("credited_won", "credited_open", "deals_sourced", "deals_influenced", "win_rate_influenced") if k in release]
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
    _check_as_of(args.as_of)
    plan = _plan(args)
    if plan is not None and args.period:
        _period(args.period, date.today())  # a bad --period fails now, not after the job has been released
    with session(args) as (profile, remote):
        keys, log = keystore(profile), receipts(profile)
        # Every agreement is checked (party, attribution, model) before anything is uploaded to any of them.
        checked = [(agreement, _attribution_terms(agreement, profile.party, "vendor")) for agreement in map(remote.get, ids)]
        model = args.model or checked[0][1].attribution.model
        refused = {a.agreement_id: t.attribution_models for a, t in checked if model not in t.attribution_models}
        if refused:
            allowed = "; ".join(f"{a} allows {', '.join(models)}" for a, models in refused.items())
            raise FailedPrecondition(f"model {model!r} is not allowed by the terms of {', '.join(refused)} ({allowed})")
        # Partners' touches already waiting are re-blinded while the deals file is read (see reblinding_waiting).
        with reblinding_waiting(remote, [agreement for agreement, _ in checked], keys, PURPOSE) as early:
            loaded = _load_deals(args)
            record_set = deal_records(loaded.deals)  # the same accounts and records under every agreement; only the blinding differs
        # Each upload goes out on a thread while the next agreement's points are blinded (the pool uses every core).
        with ThreadPoolExecutor(max_workers=1) as uploader:
            pending = []
            for agreement, terms in checked:
                for *_, upload in pending:  # an upload that failed stops the run before more blinding
                    if upload.done() and upload.exception() is not None:
                        raise upload.exception()  # type: ignore[misc]
                prepared, sent = prepare_records(record_set, terms, profile.party, agreement.agreement_id, keys.secret(agreement.agreement_id))
                pending.append((agreement, terms, uploader.submit(upload_own, remote, agreement, prepared, log, purpose=PURPOSE)))
                del prepared
            runs = [(agreement, terms, upload.result().run_id) for agreement, terms, upload in pending]
        for agreement, _, run_id in runs:
            upload_waiting(remote, agreement, early, run_id, log)
        if not args.json:
            err.print(f"{loaded.source}: {loaded.rows_read:,} rows -> {len(sent):,} deals uploaded to {len(runs)} agreement(s) "
                      f"({len(loaded.rejected):,} rows without a usable key)")
        statuses = wait_for_results(remote, [(agreement, run_id) for agreement, _, run_id in runs], keys, log, args.wait)
        waiting = [{"agreement_id": agreement.agreement_id, "partner": terms.partner(), "run_id": run_id, "waiting_for": list(status.waiting_for)}
                   for (agreement, terms, run_id), status in zip(runs, statuses) if status.state != "complete"]
        if waiting:
            if args.json:
                print_json({"state": "waiting", "waiting": waiting})
            else:
                for w in waiting:
                    out.print(f"{w['agreement_id']} ({w['partner']}): still waiting for {', '.join(w['waiting_for'])}")
                out.print("run the same command again later; uploads already made are not repeated.")
            return 0
        with working(f"the coordinator credits {len(sent):,} deals against {len(runs)} partner(s)' touches"):
            signed = remote.run_attribution([r for *_, r in runs], args.model or "", args.as_of or "")
        release = _received(signed, _public_key(profile), log)
    view = _vendor_view(release, loaded.deals, plan, args)
    if args.json:
        print_json(view)
    else:
        _print_vendor(release, view)
    return 0


def _load_deals(args: argparse.Namespace):
    return load_deals(Path(args.deals), key_column=args.key_column, name_column=args.name_column, id_column=args.id_column,
                      amount_column=args.amount_column, stage_column=args.stage_column, created_column=args.created_column,
                      close_column=args.close_column, type_column=args.type_column,
                      stage_map=args.stage_map, default_currency=args.currency)


def _check_as_of(text: str | None) -> None:
    """Refuse a bad --as-of before reading or uploading anything (the coordinator checks again)."""
    if not text:
        return
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD") from None
    if day > datetime.now(timezone.utc).date():
        raise InputError(f"--as-of {text} is in the future; open deals are judged at a date that has passed")


def _vendor_view(release: dict[str, Any], deals, plan, args: argparse.Namespace) -> dict[str, Any]:
    """The issue's JSON: per-partner credit, per-deal credit joined back to Opportunity IDs, metrics."""
    view = {
        "model": release["model"],
        "as_of": release["as_of"],
        "partners": release["partners"],
        "deals": [
            {"deal_id": deals[d["ref"]].deal_id, "amount": d["amount"], "currency": d["currency"], "credits": d["credits"],
             "unattributed": d["unattributed"], "influencers": d["influencers"], "sourcers": d["sourcers"]}
            for d in release["deals"]
        ],
        "metrics": release["metrics"],
        "job_id": release["job_id"],
        "agreements": release["agreements"],
    }
    if plan is not None:
        view["commissions"] = _statements(release, deals, plan, args.period)
    return view


def _plan(args: argparse.Namespace):
    if not args.commission_plan:
        return None
    path = Path(args.commission_plan)
    try:
        return parse_plan(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the commission plan ({exc})") from None


def _period(text: str | None, as_of: date):
    if not text:
        return quarter_period(as_of)
    try:
        if "-Q" in text.upper():
            year, q = text.upper().split("-Q")
            return quarter_period(date(int(year), 3 * int(q) - 2, 1))
        year, month = text.split("-")
        return month_period(date(int(year), int(month), 1))
    except ValueError:
        raise InputError(f"--period {text!r}: use YYYY-MM or YYYY-Qn") from None


def _statements(release: dict[str, Any], deals, plan, period_text: str | None) -> list[dict[str, Any]]:
    """Commission statements per partner, computed here from the vendor's own deals and the released credit."""
    period = _period(period_text, date.fromisoformat(release["as_of"]))
    own = [Deal(ref=d["ref"], account=0, amount=deals[d["ref"]].amount, currency=deals[d["ref"]].currency,
                outcome=deals[d["ref"]].outcome, created=deals[d["ref"]].created, closed=deals[d["ref"]].closed,
                deal_type=deals[d["ref"]].deal_type) for d in release["deals"]]
    credits = [DealCredit(ref=d["ref"], credits={p: Decimal(a) for p, a in d["credits"].items()}, unattributed=Decimal(d["unattributed"]),
                          influencers=frozenset(d["influencers"]), sourcers=frozenset(d["sourcers"])) for d in release["deals"]]
    statements = [commission_statement(plan, p["partner"], own, credits, period.start, period.end).to_dict() for p in release["partners"]]
    for statement in statements:  # a line names the vendor's own deal, not only the row reference sent
        for line in statement["lines"]:
            line["deal_id"] = deals[line["ref"]].deal_id
    return statements


def _print_vendor(release: dict[str, Any], view: dict[str, Any]) -> None:
    print_partner_credit(release)
    deals = view.get("deals") or [{**d, "deal_id": f"ref {d['ref']}"} for d in release["deals"]]
    credited = [d for d in deals if d["credits"]]
    credited.sort(key=lambda d: -Decimal(d["amount"]))
    print_table(
        f"Top credited deals ({min(10, len(credited))} of {len(credited)})",
        ["deal", "amount", "currency", "credits"],
        [[d["deal_id"], d["amount"], d["currency"], ", ".join(f"{p} {a}" for p, a in sorted(d["credits"].items()))] for d in credited[:10]],
    )
    m = release["metrics"]
    rows = []
    for k, v in m.items():
        if isinstance(v, dict):
            rows.extend([f"{k} ({sub.replace('_', ' ')})", _fmt(x)] for sub, x in v.items())
        else:
            rows.append([k, _fmt(v)])
    print_table("Ecosystem metrics", ["metric", "value"], rows)
    for statement in view.get("commissions", []):
        out.print(f"commission {statement['partner']} {statement['period']['start']}..{statement['period']['end']}: "
                  f"{statement['total']} {statement['currency'] or ''} ({len(statement['lines'])} lines)")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


def register(sub: argparse._SubParsersAction) -> None:
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
    add_json(p)
    p.set_defaults(handler=_run)

    p = asub.add_parser("show", help="what attribution released to you under an agreement")
    p.add_argument("id", help="agreement id")
    add_json(p)
    p.set_defaults(handler=_show)
