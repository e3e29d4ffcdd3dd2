"""``cleanroom demo``: the whole product on one machine, checked against ground truth.

A real coordinator process, two party profiles (a vendor on a Salesforce
export, a partner on a HubSpot export), generated messy CRM data with a known
overlap, both clients mapping at the same time over mTLS on loopback. Every
released cell is compared with the generator's ground truth.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cleanroom.demo.localrun import LocalCoordinator, client_background, client_json, finish
from cleanroom.errors import CleanroomError
from cleanroom.terminal.console import err, out, print_json
from cleanroom.terminal.views import print_overlap, print_partner_credit

POPULATIONS = ["customer", "prospect", "opportunity"]
# Account-level reveal in the demo: the vendor's open opportunities that the partner has as customers
# (and, turned round, the partner's customers the vendor has as opportunities), with these columns.
REVEAL = ("opportunity", "customer")
VENDOR_SHARES = ("Account Owner", "Last Activity")
PARTNER_SHARES = ("Company owner", "Last Activity Date")


def check_view(view: dict[str, Any], truth: dict[str, Any], viewer_is_vendor: bool) -> list[str]:
    """Differences between a released view and the ground truth (empty when it matches)."""
    problems = []
    k = view["min_count"]
    for cell in view["cells"]:
        v_pop, p_pop = (cell["mine"], cell["theirs"]) if viewer_is_vendor else (cell["theirs"], cell["mine"])
        expected = truth["matrix"][v_pop][p_pop]
        if expected < k:
            if not cell["suppressed"] or cell["count"] is not None:
                problems.append(
                    f"{view['viewer']} {cell['mine']}x{cell['theirs']}: expected suppressed (true count {expected} < {k})"
                )
        elif cell["count"] != expected:
            problems.append(f"{view['viewer']} {cell['mine']}x{cell['theirs']}: released {cell['count']}, truth {expected}")
    mine, theirs = ("vendor_accounts", "partner_accounts") if viewer_is_vendor else ("partner_accounts", "vendor_accounts")
    for side, key in (("mine", mine), ("theirs", theirs)):
        if view["totals"][side] != truth[key]:
            problems.append(f"{view['viewer']} totals.{side}: released {view['totals'][side]}, truth {truth[key]}")
    if view["totals"]["overlap"] != truth["overlap"]:
        problems.append(f"{view['viewer']} overlap: released {view['totals']['overlap']}, truth {truth['overlap']}")
    return problems


def check_targets(
    targets: list[dict[str, Any]], view: dict[str, Any], shared_accounts: Path, viewer_is_vendor: bool
) -> list[str]:
    """Differences between the revealed targets and the generator's per-company truth (empty when they match):
    exactly the shared companies on the granted pair, with the other side's populations there, and its shared columns."""
    mine_pop, their_pop = REVEAL if viewer_is_vendor else REVEAL[::-1]
    cell = next(c for c in view["cells"] if (c["mine"], c["theirs"]) == (mine_pop, their_pop))
    expected: set[str] = set()
    if not cell["suppressed"]:
        with open(shared_accounts, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                v, p = row["vendor_populations"].split(";"), row["partner_populations"].split(";")
                mine, theirs = (v, p) if viewer_is_vendor else (p, v)
                if mine_pop in mine and their_pop in theirs:
                    expected.add(row["domain"])
    got = {t["domain"] for t in targets}
    problems = [f"{view['viewer']} target {d}: not a shared {mine_pop} x {their_pop} company" for d in sorted(got - expected)]
    problems += [f"{view['viewer']}: shared {mine_pop} x {their_pop} company {d} not revealed" for d in sorted(expected - got)]
    shares = set(PARTNER_SHARES if viewer_is_vendor else VENDOR_SHARES)
    for t in targets:
        if t["partner_populations"] != [their_pop] or set(t["partner_fields"]) != shares:
            problems.append(
                f"{view['viewer']} target {t['domain']}: partner populations {t['partner_populations']}, fields {sorted(t['partner_fields'])}"
            )
    return problems


def print_targets(targets: list[dict[str, Any]], total: int) -> None:
    from cleanroom.terminal.console import print_table

    print_table(
        f"vendor's top {len(targets)} co-sell targets of {total} (its {REVEAL[0]} accounts the partner has as {REVEAL[1]}; "
        "the partner's fields sealed end to end, opened by the vendor)",
        ["#", "score", "account", "domain", "vendor stage", "amount", *PARTNER_SHARES],
        [
            [
                t["rank"],
                f"{t['score']:.1f}",
                t["account"],
                t["domain"],
                t.get("my_stage") or "",
                "" if t.get("my_amount") is None else f"{t['my_amount']:,.0f}",
                *(t["partner_fields"].get(c) or "" for c in PARTNER_SHARES),
            ]
            for t in targets
        ],
    )


def verify_audit(data_dir: Path, out: Path, profiles: list[Path] | None = None) -> dict[str, Any]:
    """Export the coordinator's audit chain and verify it as a compliance team would: offline, and against
    the signed audit heads the parties kept with their receipts (`cleanroom audit verify --receipts`)."""
    from cleanroom.auditlog.anchors import check_heads, distinct, read_held_heads
    from cleanroom.auditlog.verify import load_key, verify_file
    from cleanroom.coordinator.audit.export import export
    from cleanroom.coordinator.datadir import DataDir

    summary = export(DataDir(data_dir), out)
    result = verify_file(out, Path(summary["public_key"]))
    held = distinct([h for profile in profiles or [] for h in read_held_heads(profile)])
    checks = check_heads(held, result.hashes, load_key(Path(summary["public_key"])))
    return {
        "file": str(out),
        "entries": result.entries,
        "head_hash": result.head_hash,
        "ok": result.ok and all(c.ok for c in checks),
        "problems": result.problems,
        "heads_checked": len(checks),
        "heads_missing": [c.to_dict() for c in checks if not c.ok],
    }


def _attribution(
    args: argparse.Namespace, coordinator: LocalCoordinator, vendor: Path, work: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """The vendor credits three partners on its deals, each partner under its own agreement."""
    from cleanroom.attribution import AttributionConfig
    from cleanroom.demo.attribution import check_attribution

    summary = client_json(
        vendor,
        "synth",
        "--out",
        str(work / "deals"),
        "--attribution",
        "--deals",
        str(args.deals),
        "--touches",
        str(args.touches),
        "--seed",
        str(args.seed),
    )
    truth = json.loads(Path(summary["paths"]["ground_truth"]).read_text())
    partners = {name: coordinator.add_party(name, work / name) for name in truth["partners"]}
    say(f"generated {truth['deal_rows']:,} Salesforce opportunities and {len(partners)} partners' touchpoint files")
    ids = {}
    for name, profile in partners.items():
        proposed = client_json(vendor, "agreement", "propose", "--with", name, "--populations", "customer", "--attribution")
        client_json(profile, "agreement", "approve", proposed["agreement_id"])
        ids[name] = proposed["agreement_id"]
    uploads = [
        client_background(profile, "attribution", "touches", ids[name], summary["paths"][name], "--wait", "300", "--json")
        for name, profile in partners.items()
    ]
    view = client_json(
        vendor,
        "attribution",
        "run",
        "--agreements",
        ",".join(ids.values()),
        "--deals",
        summary["paths"]["deals"],
        "--wait",
        "300",
        "--as-of",
        truth["as_of"],
    )
    for proc in uploads:
        finish(proc)
    say(f"attribution run over {len(ids)} agreements; partners' touches re-blinded and joined by token")
    releases = {name: client_json(profile, "attribution", "show", ids[name]) for name, profile in partners.items()}
    return {
        "view": view,
        "partner_releases": releases,
        "profiles": partners,
        "problems": check_attribution(view, truth, AttributionConfig()),
    }


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
        out.print(
            f"{name} sees only its own figures: credited won {shown}, deals influenced {r.get('deals_influenced')}", markup=False
        )
    out.print()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _overlap(args: argparse.Namespace, coordinator: LocalCoordinator, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Vendor and partner map their synthetic accounts under one agreement, then list their co-sell targets."""
    vendor = coordinator.add_party("vendor", work / "vendor")
    partner = coordinator.add_party("partner", work / "partner")
    data = _synth_accounts(args, vendor, work)
    truth = json.loads(Path(data["ground_truth"]).read_text())
    say(f"generated {truth['vendor_rows']:,} Salesforce rows and {truth['partner_rows']:,} HubSpot rows")
    agreement_id = _agree_overlap(vendor, partner, say)
    views = _map_both(vendor, partner, agreement_id, data)
    problems = check_view(views["vendor"], truth, True) + check_view(views["partner"], truth, False)
    targets = {
        name: client_json(profile, "targets", agreement_id)["targets"]
        for name, profile in (("vendor", vendor), ("partner", partner))
    }
    problems += check_targets(targets["vendor"], views["vendor"], Path(data["shared_accounts"]), True)
    problems += check_targets(targets["partner"], views["partner"], Path(data["shared_accounts"]), False)
    say(
        f"account-level reveal: vendor {len(targets['vendor'])} targets, partner {len(targets['partner'])}; fields sealed end to end"
    )
    return {
        "profiles": {"vendor": vendor, "partner": partner},
        "agreement_id": agreement_id,
        "views": views,
        "truth": truth,
        "targets": targets,
        "problems": problems,
    }


def _synth_accounts(args: argparse.Namespace, vendor: Path, work: Path) -> dict[str, Any]:
    """Generate both sides' account exports (and their ground truth, per company too); returns the files' paths."""
    return client_json(
        vendor,
        "synth",
        "--out",
        str(work / "data"),
        "--vendor-accounts",
        str(args.vendor_accounts),
        "--partner-accounts",
        str(args.partner_accounts),
        "--overlap",
        str(args.overlap),
        "--seed",
        str(args.seed),
        "--shared-accounts",
    )


def _agree_overlap(vendor: Path, partner: Path, say: Callable[[str], None]) -> str:
    """The vendor proposes the overlap agreement, the partner amends and approves it, the vendor approves; its id."""
    agreement = client_json(
        vendor,
        "agreement",
        "propose",
        "--with",
        "partner",
        "--populations",
        ",".join(POPULATIONS),
        "--reveal",
        ":".join(REVEAL),
        "--share",
        ",".join(VENDOR_SHARES),
    )
    agreement_id: str = agreement["agreement_id"]
    amended = client_json(partner, "agreement", "approve", agreement_id, "--share", ",".join(PARTNER_SHARES))
    client_json(vendor, "agreement", "approve", agreement_id)
    say(
        f"agreement {agreement_id} proposed by vendor (reveal {REVEAL[0]} x {REVEAL[1]}, sharing {', '.join(VENDOR_SHARES)}); "
        f"partner amended it to share {', '.join(PARTNER_SHARES)} (v{amended['version']}); vendor approved v{amended['version']}"
    )
    return agreement_id


def _map_both(vendor: Path, partner: Path, agreement_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Both sides map their exports at the same time; each side's released view, by name."""
    procs = {
        "vendor": client_background(vendor, "map", agreement_id, data["vendor"], "--wait", "300", "--json"),
        "partner": client_background(partner, "map", agreement_id, data["partner"], "--wait", "300", "--json"),
    }
    views = {name: json.loads(finish(proc)) for name, proc in procs.items()}
    for name, view in views.items():
        if "cells" not in view:  # map's --wait ran out and it printed what it still waits for
            raise CleanroomError(
                f"the {name}'s map ended without a result, still waiting for {', '.join(view['waiting_for']) or view['state']}"
            )
    return views


def _print_report(
    overlap: dict[str, Any],
    attribution: dict[str, Any],
    problems: list[str],
    audit: dict[str, Any],
    receipts: dict[str, Any],
    elapsed: float,
) -> None:
    """The demo's result for people: both views, the top targets, attribution, and what was checked."""
    views, targets, truth = overlap["views"], overlap["targets"], overlap["truth"]
    for name in ("vendor", "partner"):
        print_overlap(views[name])
        out.print()
    print_targets(targets["vendor"][:10], len(targets["vendor"]))
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
            f"[bold green]ok[/]: the {len(targets['vendor']):,} accounts revealed to the vendor and {len(targets['partner']):,} to the partner "
            f"are exactly the shared {REVEAL[0]} x {REVEAL[1]} companies of the ground truth, each with the other side's shared columns."
        )
        out.print(
            f"[bold green]ok[/]: attribution ({attribution['view']['model']}) credits all {len(attribution['view']['deals']):,} matched deals "
            f"of {len(attribution['profiles'])} partners exactly as the generator's ground truth says, to the cent. {elapsed:.1f} s."
        )
    out.print(
        f"audit log: {audit['entries']} signed, hash-chained entries exported and verified offline, against the "
        f"{audit['heads_checked']} signed heads the parties kept ({'intact' if audit['ok'] else 'BROKEN'}, head {audit['head_hash'][:16]}...)"
    )
    for name, r in receipts.items():
        out.print(f"{name} receipts: {r['receipts']} countersigned receipts {'verify' if r['ok'] else 'DO NOT verify'}")


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
        overlap = _overlap(args, coordinator, work, say)
        attribution = _attribution(args, coordinator, overlap["profiles"]["vendor"], work, say)
        problems = overlap["problems"] + attribution["problems"]
        profiles = {**overlap["profiles"], **attribution["profiles"]}
        receipts = {name: client_json(profile, "receipts", "verify") for name, profile in profiles.items()}
        coordinator.stop()
        audit = verify_audit(coordinator.data_dir, work / "audit.jsonl", list(profiles.values()))
        elapsed = time.monotonic() - started
        if args.json:
            targets = overlap["targets"]
            print_json(
                {
                    "agreement_id": overlap["agreement_id"],
                    "views": overlap["views"],
                    "ground_truth": overlap["truth"],
                    "targets": {
                        "vendor_top10": targets["vendor"][:10],
                        "vendor_total": len(targets["vendor"]),
                        "partner_total": len(targets["partner"]),
                    },
                    "attribution": attribution["view"],
                    "partner_releases": attribution["partner_releases"],
                    "matches_ground_truth": not problems,
                    "problems": problems,
                    "audit": audit,
                    "receipts": receipts,
                    "seconds": round(elapsed, 2),
                }
            )
        else:
            _print_report(overlap, attribution, problems, audit, receipts, elapsed)
        ok = not problems and audit["ok"] and all(r["ok"] for r in receipts.values())
        if getattr(args, "serve", None) is not None:  # keep the coordinator, REST API and pages up until Ctrl-C
            from cleanroom.demo.serve import serve_after_demo

            serve_after_demo(coordinator, args.serve)
        return 0 if ok else 1
    finally:
        coordinator.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
