"""``cleanroom demo``: the whole product on one machine, checked against ground truth.

A real coordinator process, two party profiles (a vendor on a Salesforce
export, a partner on a HubSpot export), generated messy CRM data with a known
overlap, both clients mapping at the same time over mTLS on loopback. Every
released cell is compared with the generator's ground truth.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from cleanroom.console import err, out, print_json
from cleanroom.views import print_overlap, print_partner_credit
from cleanroom.localrun import LocalCoordinator, client_background, client_json, finish

POPULATIONS = ["customer", "prospect", "opportunity"]


def check_view(view: dict[str, Any], truth: dict[str, Any], viewer_is_vendor: bool) -> list[str]:
    """Differences between a released view and the ground truth (empty when it matches)."""
    problems = []
    k = view["min_count"]
    for cell in view["cells"]:
        v_pop, p_pop = (cell["mine"], cell["theirs"]) if viewer_is_vendor else (cell["theirs"], cell["mine"])
        expected = truth["matrix"][v_pop][p_pop]
        if expected < k:
            if not cell["suppressed"] or cell["count"] is not None:
                problems.append(f"{view['viewer']} {cell['mine']}x{cell['theirs']}: expected suppressed (true count {expected} < {k})")
        elif cell["count"] != expected:
            problems.append(f"{view['viewer']} {cell['mine']}x{cell['theirs']}: released {cell['count']}, truth {expected}")
    mine, theirs = ("vendor_accounts", "partner_accounts") if viewer_is_vendor else ("partner_accounts", "vendor_accounts")
    for side, key in (("mine", mine), ("theirs", theirs)):
        if view["totals"][side] != truth[key]:
            problems.append(f"{view['viewer']} totals.{side}: released {view['totals'][side]}, truth {truth[key]}")
    if view["totals"]["overlap"] != truth["overlap"]:
        problems.append(f"{view['viewer']} overlap: released {view['totals']['overlap']}, truth {truth['overlap']}")
    return problems


def verify_audit(data_dir: Path, out: Path) -> dict[str, Any]:
    """Export the coordinator's audit chain and verify it as a compliance team would: offline."""
    from cleanroom.audit.export import export
    from cleanroom.audit.verify import verify_file
    from cleanroom.coordinator.datadir import DataDir

    summary = export(DataDir(data_dir), out)
    result = verify_file(out, Path(summary["public_key"]))
    return {"file": str(out), "entries": result.entries, "head_hash": result.head_hash, "ok": result.ok, "problems": result.problems}


def _attribution(args: argparse.Namespace, coordinator: LocalCoordinator, vendor: Path, work: Path, say) -> dict[str, Any]:
    """The vendor credits three partners on its deals, each partner under its own agreement."""
    from cleanroom.attribution import AttributionConfig
    from cleanroom.demo_attribution import check_attribution

    summary = client_json(vendor, "synth", "--out", str(work / "deals"), "--attribution", "--deals", str(args.deals),
                          "--touches", str(args.touches), "--seed", str(args.seed))
    truth = json.loads(Path(summary["paths"]["ground_truth"]).read_text())
    partners = {name: coordinator.add_party(name, work / name) for name in truth["partners"]}
    say(f"generated {truth['deal_rows']:,} Salesforce opportunities and {len(partners)} partners' touchpoint files")
    ids = {}
    for name, profile in partners.items():
        proposed = client_json(vendor, "agreement", "propose", "--with", name, "--populations", "customer", "--attribution")
        client_json(profile, "agreement", "approve", proposed["agreement_id"])
        ids[name] = proposed["agreement_id"]
    uploads = [client_background(profile, "attribution", "touches", ids[name], summary["paths"][name], "--wait", "300", "--json")
               for name, profile in partners.items()]
    view = client_json(vendor, "attribution", "run", "--agreements", ",".join(ids.values()), "--deals", summary["paths"]["deals"],
                       "--wait", "300", "--as-of", truth["as_of"])
    for proc in uploads:
        finish(proc)
    say(f"attribution run over {len(ids)} agreements; partners' touches re-blinded and joined by token")
    releases = {name: client_json(profile, "attribution", "show", ids[name]) for name, profile in partners.items()}
    return {"view": view, "partner_releases": releases, "profiles": partners,
            "problems": check_attribution(view, truth, AttributionConfig())}


def print_attribution(view: dict[str, Any], releases: dict[str, dict[str, Any]]) -> None:
    print_partner_credit(view)
    m = view["metrics"]
    out.print(
        f"partner-influenced pipeline: {m['influenced_share_amount']:.1%} of amount, {m['influenced_share_count']:.1%} of deals; "
        f"win rate with partners {_pct(m['win_rate']['with_partners'])} vs without {_pct(m['win_rate']['without_partners'])}; "
        f"ecosystem depth {m['ecosystem_depth'] or 0:.2f} partners per won account",
        markup=False,
    )
    for name, r in releases.items():
        won = r.get("credited_won")
        shown = f"{won} {r.get('currency') or ''}" if not isinstance(won, dict) else "suppressed"
        out.print(f"{name} sees only its own figures: credited won {shown}, deals influenced {r.get('deals_influenced')}", markup=False)
    out.print()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def run_demo(args: argparse.Namespace) -> int:
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cleanroom-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    coordinator = LocalCoordinator(work / "coordinator")
    started = time.monotonic()
    try:
        say = (lambda msg: None) if args.json else (lambda msg: err.print(f"[demo] {msg}", markup=False))
        say(f"working in {work}")
        coordinator.init().start()
        say(f"coordinator up on {coordinator.address} (mTLS)")
        vendor = coordinator.add_party("vendor", work / "vendor")
        partner = coordinator.add_party("partner", work / "partner")
        data = client_json(
            vendor, "synth", "--out", str(work / "data"),
            "--vendor-accounts", str(args.vendor_accounts), "--partner-accounts", str(args.partner_accounts),
            "--overlap", str(args.overlap), "--seed", str(args.seed),
        )
        truth = json.loads(Path(data["ground_truth"]).read_text())
        say(f"generated {truth['vendor_rows']:,} Salesforce rows and {truth['partner_rows']:,} HubSpot rows")
        agreement = client_json(vendor, "agreement", "propose", "--with", "partner", "--populations", ",".join(POPULATIONS))
        agreement_id = agreement["agreement_id"]
        client_json(partner, "agreement", "approve", agreement_id)
        say(f"agreement {agreement_id} proposed by vendor, approved by partner")
        procs = {
            "vendor": client_background(vendor, "map", agreement_id, data["vendor"], "--wait", "300", "--json"),
            "partner": client_background(partner, "map", agreement_id, data["partner"], "--wait", "300", "--json"),
        }
        views = {name: json.loads(finish(proc)) for name, proc in procs.items()}
        problems = check_view(views["vendor"], truth, True) + check_view(views["partner"], truth, False)
        attribution = _attribution(args, coordinator, vendor, work, say)
        problems += attribution["problems"]
        profiles = {"vendor": vendor, "partner": partner, **attribution["profiles"]}
        receipts = {name: client_json(profile, "receipts", "verify") for name, profile in profiles.items()}
        coordinator.stop()
        audit = verify_audit(coordinator.data_dir, work / "audit.jsonl")
        elapsed = time.monotonic() - started
        if args.json:
            print_json({
                "agreement_id": agreement_id, "views": views, "ground_truth": truth,
                "attribution": attribution["view"], "partner_releases": attribution["partner_releases"],
                "matches_ground_truth": not problems, "problems": problems,
                "audit": audit, "receipts": receipts, "seconds": round(elapsed, 2),
            })
        else:
            for name in ("vendor", "partner"):
                print_overlap(views[name])
                out.print()
            print_attribution(attribution["view"], attribution["partner_releases"])
            if problems:
                out.print("[bold red]MISMATCH with the generator's ground truth:[/]")
                for problem in problems:
                    out.print(f"  - {problem}", markup=False)
            else:
                n_cells = len(views["vendor"]["cells"]) + len(views["partner"]["cells"])
                out.print(
                    f"[bold green]ok[/]: all {n_cells} released cells and both sides' totals match the generator's ground truth "
                    f"(overlap {truth['overlap']:,}); the two views are transposes of each other."
                )
                out.print(
                    f"[bold green]ok[/]: attribution ({attribution['view']['model']}) credits all {len(attribution['view']['deals']):,} matched deals "
                    f"of {len(attribution['profiles'])} partners exactly as the generator's ground truth says, to the cent. {elapsed:.1f} s."
                )
            out.print(
                f"audit log: {audit['entries']} signed, hash-chained entries exported and verified offline "
                f"({'intact' if audit['ok'] else 'BROKEN'}, head {audit['head_hash'][:16]}...)"
            )
            for name, r in receipts.items():
                out.print(f"{name} receipts: {r['receipts']} countersigned receipts {'verify' if r['ok'] else 'DO NOT verify'}")
        ok = not problems and audit["ok"] and all(r["ok"] for r in receipts.values())
        return 0 if ok else 1
    finally:
        coordinator.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
