"""Attribution end to end: a coordinator, a vendor and three partners as separate
processes over mTLS gRPC, on generated deals and touches with exact ground truth.

The expected credit of every deal is computed here from the generator's own
bookkeeping (which company each deal and touch belongs to), never from the
normaliser or the PSI join, and run through the pure models; what the
coordinator releases must equal it to the cent, for every model. Then: the
sides at different times, bad input (one clear line, exit 2, nothing
changed), the coordinator's store and wire log searched for every identifier
of the input files, and the audit chain.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from cleanroom.attribution import (
    AttributionConfig,
    Deal,
    Touch,
    commission_statement,
    credit_deals,
    ecosystem_metrics,
    parse_plan,
    partner_release,
    quarter_period,
    summarize_partners,
)
from cleanroom.attribution.config import MODELS, PARTNER_FIELDS
from cleanroom.coordinator.datadir import DataDir
from cleanroom.demo.localrun import COORDINATOR, LocalCoordinator, client, client_background, client_json, finish, run
from cleanroom.demo.synth_deals import TOUCH_STYLES, AttributionTruth, write_attribution_set
from cleanroom.psi import hash_to_point
from cleanroom.terms import build_terms, canonical_json
from cleanroom_client.inputs.keys.domain import DomainRejected, canonical_domain
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.prepare import hash_context
from cleanroom_client.remote import Remote

from store_scan import store_values

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel

SEED, DEALS, TOUCHES = 5, 600, 500
AS_OF = date(2025, 12, 31)
PARTNERS = ("partner-a", "partner-b", "partner-c")
PLAN = {"kind": "hybrid", "fee": "250", "rate": "0.1"}
PERIOD = "2025-Q4"
# partner-b agrees another model than the job's default; partner-c sees fewer fields and needs more deals (k).
PARTNER_C_TERMS = {"min_deals": 55, "partner_sees": ["credited_won", "credited_open", "deals_influenced", "win_rate_influenced"]}
# What a partner's release carries besides the figures partner_release() decides.
ENVELOPE = {"kind", "job_id", "viewer", "agreement_id", "run_id", "terms_hash", "model", "as_of", "released_at", "signature"}


# -- the expected result, from the generator's ground truth only ---------------------------------------------


@dataclass
class Expected:
    per_deal: dict[str, dict[str, Any]]  # Opportunity ID -> the vendor's row: amount, currency, credits, unattributed, ...
    deals: list[Deal]
    credits: list[Any]  # DealCredit per deal, in the order of ``deals``
    ids: dict[int, str]  # ref -> Opportunity ID
    summaries: dict[str, Any]  # partner -> PartnerSummary
    metrics: dict[str, Any]


def expected(truth: AttributionTruth, config: AttributionConfig, model: str, partners=PARTNERS) -> Expected:
    """Credit every deal the vendor could upload (a usable key) with the touches the generator put on its company."""
    deals, touches, ids = [], {}, {}
    for ref, d in enumerate(d for d in truth.deals if d.matchable):
        deals.append(
            Deal(
                ref=ref,
                account=d.company,
                amount=d.amount,
                currency=d.currency,
                outcome=d.outcome,
                created=d.created,
                closed=d.closed,
                deal_type=d.deal_type,
            )
        )
        touches[ref] = [Touch(partner=t.partner, role=t.role, day=t.day) for t in d.touches if t.partner in partners]
        ids[ref] = d.deal_id
    credits = credit_deals(deals, touches, config, AS_OF, model)
    per_deal = {}
    for deal, credit in zip(deals, credits, strict=True):
        row = credit.to_dict()
        del row["ref"]
        per_deal[ids[deal.ref]] = {"deal_id": ids[deal.ref], "amount": deal.amount, "currency": deal.currency, **row}
    return Expected(
        per_deal=per_deal,
        deals=deals,
        credits=credits,
        ids=ids,
        summaries={s.partner: s for s in summarize_partners(deals, credits, partners=partners)},
        metrics=json.loads(json.dumps(ecosystem_metrics(deals, credits))),
    )


def _by_deal_id(statement: dict) -> dict:
    """A statement with its lines keyed by Opportunity ID (the row reference is the client's own business)."""
    lines = sorted(
        ({k: v for k, v in line.items() if k != "ref"} for line in statement["lines"]), key=lambda x: (x["deal_id"], x["item"])
    )
    return {**statement, "lines": lines}


def assert_vendor_view(view: dict, truth: AttributionTruth, config: AttributionConfig, model: str, partners=PARTNERS) -> Expected:
    want = expected(truth, config, model, partners)
    assert view["model"] == model and view["as_of"] == AS_OF.isoformat()
    assert all(re.fullmatch(r"\d+\.\d{2,}", d["amount"]) for d in view["deals"]), "money is written with at least two decimals"
    got = {d["deal_id"]: {**d, "amount": Decimal(d["amount"])} for d in view["deals"]}
    assert len(got) == len(view["deals"]) and set(got) == set(want.per_deal), (
        "the release holds exactly the vendor's uploadable deals"
    )
    wrong = {i: (got[i], want.per_deal[i]) for i in want.per_deal if got[i] != want.per_deal[i]}
    assert not wrong, f"{len(wrong)} deals credited differently from the ground truth, e.g. {list(wrong.items())[:2]}"
    assert sum(1 for d in got.values() if d["credits"]) > 100, "the data should credit many deals"
    if model != "influenced":  # credits plus the unattributed rest are the deal's amount, to the cent
        for d in got.values():
            assert sum(map(Decimal, d["credits"].values()), Decimal(0)) + Decimal(d["unattributed"]) == d["amount"]
    assert view["partners"] == [want.summaries[p].to_dict() for p in sorted(partners)]
    assert view["metrics"] == want.metrics
    return want


# -- the world: one coordinator, a vendor and three partners, shared by the tests here ------------------------


@dataclass
class World:
    base: Path
    coord: LocalCoordinator
    truth: AttributionTruth
    profiles: dict[str, Path] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # partner -> agreement id
    configs: dict[str, AttributionConfig] = field(default_factory=dict)  # partner -> agreed settings
    views: dict[str, dict] = field(default_factory=dict)  # model -> the vendor's --json output
    jobs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # job id -> (agreement id, partner) per agreement
    extra: dict[str, str] = field(default_factory=dict)  # further agreements, by purpose
    latest: dict = field(default_factory=dict)  # the latest job over the three main agreements

    @property
    def deals(self) -> str:
        return self.truth.paths["deals"]

    @property
    def plan_file(self) -> str:
        return str(self.base / "plan.json")

    def running(self) -> World:
        if self.coord.process is None:
            self.coord.start()
        return self

    def stopped(self) -> World:
        self.coord.stop()
        return self

    def agree(
        self, partner: str, attribution: AttributionConfig | None = AttributionConfig(), models: list[str] | None = None
    ) -> str:
        """A further agreement, proposed and approved over the wire from here (the CLI's path is the main world's)."""
        terms = build_terms("vendor", partner, ["customer"], min_set_size=10, attribution=attribution, attribution_models=models)
        with self.remote("vendor") as vendor, self.remote(partner) as other:
            proposed = vendor.propose(partner, canonical_json(terms))
            assert other.approve(proposed.agreement_id, proposed.terms_hash).state == "active"
        return proposed.agreement_id

    def extra_agreement(self, name: str) -> str:
        if name not in self.extra:
            self.running()
            self.extra[name] = (
                self.agree("partner-a", None) if name == "plain" else self.agree("partner-a", models=["role-split"])
            )
        return self.extra[name]

    def vendor_run(self, model: str) -> dict:
        if model not in self.views:
            self.running()
            view = client_json(
                self.profiles["vendor"],
                "attribution",
                "run",
                "--agreements",
                ",".join(self.ids[p] for p in PARTNERS),
                "--deals",
                self.deals,
                "--as-of",
                AS_OF.isoformat(),
                "--model",
                model,
                "--commission-plan",
                self.plan_file,
                "--period",
                PERIOD,
            )
            self.record(view)
        return self.views[model]

    def record(self, view: dict) -> None:
        self.views.setdefault(view["model"], view)
        self.jobs[view["job_id"]] = [(a["agreement_id"], a["partner"]) for a in view["agreements"]]
        if self.jobs[view["job_id"]] == [(self.ids[p], p) for p in PARTNERS]:
            self.latest = view

    def remote(self, party: str) -> Remote:
        return Remote(Profile.load(self.profiles[party]))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("attribution")
    truth = write_attribution_set(base / "data", deals=DEALS, partners=PARTNERS, touches=TOUCHES, seed=SEED, as_of=AS_OF)
    coord = LocalCoordinator(base / "coord", wire_log=base / "wire.bin").init().start()
    w = World(base, coord, truth)
    (base / "plan.json").write_text(json.dumps(PLAN))
    try:
        # Profiles are written in-process (coord.add_party runs one process per party for the same files).
        w.profiles = {n: DataDir(coord.data_dir).add_party(n, base / n, coord.address) for n in ("vendor", *PARTNERS)}
        c_terms = base / "partner-c-terms.json"
        c_terms.write_text(json.dumps(PARTNER_C_TERMS))
        flags = {
            "partner-a": ["--attribution"],
            "partner-b": ["--attribution", "--model", "time-decay"],
            "partner-c": ["--attribution", "--terms", str(c_terms)],
        }
        proposals = {
            p: client_background(
                w.profiles["vendor"],
                "agreement",
                "propose",
                "--with",
                p,
                "--populations",
                "customer",
                "--min-set-size",
                "10",
                *flags[p],
                "--json",
            )
            for p in PARTNERS
        }
        for p, proc in proposals.items():
            proposed = json.loads(finish(proc))
            w.ids[p] = proposed["agreement_id"]
            w.configs[p] = AttributionConfig.from_dict(proposed["terms"]["attribution"]["settings"])
        approvals = {p: client_background(w.profiles[p], "agreement", "approve", w.ids[p], "--json") for p in PARTNERS}
        assert all(json.loads(finish(proc))["state"] == "active" for proc in approvals.values())
        # Partners first, all at once; then the vendor while the partners' sync re-blinds its deals.
        uploads = {
            p: client_background(w.profiles[p], "attribution", "touches", w.ids[p], truth.paths[p], "--json") for p in PARTNERS
        }
        for p, proc in uploads.items():
            report = json.loads(finish(proc))
            assert report["state"] == "collecting" and report["touches"] == TOUCHES - truth.rejected_touch_rows[p]
        syncs = [client_background(w.profiles[p], "sync", "--wait", "60") for p in PARTNERS]
        view = client_json(
            w.profiles["vendor"],
            "attribution",
            "run",
            "--agreements",
            ",".join(w.ids[p] for p in PARTNERS),
            "--deals",
            w.deals,
            "--wait",
            "60",
            "--as-of",
            AS_OF.isoformat(),
            "--commission-plan",
            w.plan_file,
            "--period",
            PERIOD,
        )
        for proc in syncs:
            finish(proc)
        assert view["model"] == w.configs["partner-a"].model == "role-split", "default: the first agreement's model"
        w.record(view)
        yield w
    finally:
        coord.stop()


# -- 1. every model against the ground truth --------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_every_model_matches_ground_truth(world: World, model: str):
    view = world.vendor_run(model)
    want = assert_vendor_view(view, world.truth, world.configs["partner-a"], model)
    assert [(a["partner"], a["agreement_id"]) for a in view["agreements"]] == [(p, world.ids[p]) for p in PARTNERS]
    # Commission statements: the vendor's own computation from the released credit, lines by Opportunity ID.
    plan, period = parse_plan(PLAN), quarter_period(date(2025, 10, 1))
    assert [s["partner"] for s in view["commissions"]] == list(PARTNERS)
    for statement in view["commissions"]:
        exp = commission_statement(plan, statement["partner"], want.deals, want.credits, period.start, period.end).to_dict()
        for line in exp["lines"]:
            line["deal_id"] = want.ids[line["ref"]]
        assert _by_deal_id(statement) == _by_deal_id(exp)
    assert any(s["lines"] for s in view["commissions"]), "the period should hold commissionable deals"


def test_partner_sees_only_its_own_k_suppressed_figures(world: World):
    world.vendor_run("linear")  # the vendor's own view may use another model; partners keep their agreed one
    view = world.latest
    assert view["model"] != "role-split"
    deal_ids = {d.deal_id for d in world.truth.deals}
    amounts = {str(d.amount) for d in world.truth.deals}
    suppressed = shown = 0
    for p in PARTNERS:
        world.running()
        release = client_json(world.profiles[p], "attribution", "show", world.ids[p])
        agreed = world.configs[p]
        summary = expected(world.truth, world.configs["partner-a"], agreed.model).summaries[p]
        want = partner_release(summary, agreed)
        assert {k: release[k] for k in want} == want, p
        assert set(release) == set(want) | ENVELOPE, (
            f"{p} was released more than its own figures: {set(release) - set(want) - ENVELOPE}"
        )
        assert set(want) - {"partner", "currency", "min_deals"} == set(agreed.partner_sees)
        assert (release["viewer"], release["agreement_id"], release["model"], release["job_id"]) == (
            p,
            world.ids[p],
            agreed.model,
            view["job_id"],
        )
        text = json.dumps(release)
        assert [o for o in PARTNERS if o != p and o in text] == [], f"{p}'s release names another partner"
        assert [i for i in deal_ids if i in text] == [], f"{p}'s release holds a deal id"
        money = [release[f] for f in ("credited_won", "credited_open") if isinstance(release.get(f), str)]
        assert not set(money) & amounts, f"{p}'s release equals a single deal's amount"
        for f in PARTNER_FIELDS:
            if isinstance(release.get(f), dict):
                assert release[f]["suppressed"] is True and str(agreed.min_deals) in release[f]["reason"]
                suppressed += 1
            elif f in release:
                shown += 1
    assert suppressed and shown, "the data should exercise both sides of the k rule"


# -- 2. the sides at different times -------------------------------------------------------------------------


def test_vendor_first_then_partners_later(world: World):
    world.running()
    vendor = world.profiles["vendor"]
    partners = ("partner-a", "partner-b")
    ids = {p: world.agree(p) for p in partners}
    args = ["attribution", "run", "--agreements", ",".join(ids.values()), "--deals", world.deals, "--as-of", AS_OF.isoformat()]
    first = client(vendor, *args, "--wait", "0")
    assert first.returncode == 0
    for p in partners:
        assert f"{ids[p]} ({p}): still waiting for {p}'s upload" in first.stdout
    assert "run the same command again later" in first.stdout
    # partner-a comes; the vendor's next attempt re-blinds its touches and still waits for partner-b alone.
    a = client_json(world.profiles["partner-a"], "attribution", "touches", ids["partner-a"], world.truth.paths["partner-a"])
    assert a["state"] == "collecting" and a["waiting_for"] == ["vendor's re-blinding of your points"]
    second = client_json(vendor, *args, "--wait", "0")
    assert second["state"] == "waiting"
    assert [(w["partner"], w["agreement_id"]) for w in second["waiting"]] == [("partner-b", ids["partner-b"])]
    assert second["waiting"][0]["waiting_for"] == ["partner-b's upload", "partner-b's re-blinding of your points"]
    b = client_json(world.profiles["partner-b"], "attribution", "touches", ids["partner-b"], world.truth.paths["partner-b"])
    assert b["state"] == "collecting"
    synced = client_json(vendor, "sync", ids["partner-b"], "--wait", "30")
    assert [s["state"] for s in synced["agreements"] if s["purpose"] == "attribution"] == ["complete"]
    view = client_json(vendor, *args, "--wait", "0")
    world.jobs[view["job_id"]] = [(ids[p], p) for p in partners]  # for the audit test
    assert_vendor_view(view, world.truth, AttributionConfig(), "role-split", partners)
    shown = client_json(world.profiles["partner-b"], "attribution", "show", ids["partner-b"])
    summary = expected(world.truth, AttributionConfig(), "role-split", partners).summaries["partner-b"]
    want = partner_release(summary, AttributionConfig())
    assert {k: shown[k] for k in want} == want and shown["job_id"] == view["job_id"]


# -- 3. bad input ------------------------------------------------------------------------------------------


def _rewrite(source: str, out: Path, row: int, changes: dict[str, str]) -> str:
    """A copy of a CSV with some cells of one 1-based data row changed."""
    with open(source, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[row - 1].update(changes)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(out)


def _snapshot(world: World) -> dict:
    """What a refused request must not change: every party's local receipts and keys, and the coordinator's
    agreements, latest attribution runs and releases as each party sees them."""
    state: dict[str, Any] = {}
    for name, profile in world.profiles.items():
        state[f"{name} files"] = {p.name: p.read_bytes() for p in sorted(profile.iterdir()) if p.is_file()}
        with world.remote(name) as remote:
            agreements = remote.list()
            state[f"{name} agreements"] = sorted((a.agreement_id, a.version, a.state, a.terms_hash) for a in agreements)
            for a in agreements:
                status = remote.status(a.agreement_id, purpose="attribution")
                state[f"{name} {a.agreement_id} run"] = (status.run_id, status.state, tuple(status.waiting_for))
                try:
                    state[f"{name} {a.agreement_id} release"] = remote.show_attribution(a.agreement_id).body_json
                except Exception as exc:  # nothing released (yet), or no attribution in the terms
                    state[f"{name} {a.agreement_id} release"] = type(exc).__name__
    return state


def test_bad_input_is_one_clear_line_and_changes_nothing(world: World):
    w = world.running()
    w.vendor_run("role-split")
    plain, restricted = w.extra_agreement("plain"), w.extra_agreement("restricted")
    bad = w.base / "bad"
    bad.mkdir(exist_ok=True)
    deals, a_touches = w.deals, w.truth.paths["partner-a"]
    row = next(d.row for d in w.truth.deals if d.outcome == "won" and d.matchable)  # a won deal: its close date matters
    files = {
        "amount": _rewrite(deals, bad / "amount.csv", row, {"Amount": "12,5OO.00"}),
        "negative": _rewrite(deals, bad / "negative.csv", row, {"Amount": "-1,250.00"}),
        "stage": _rewrite(deals, bad / "stage.csv", row, {"Stage": "Closed Maybe"}),
        "dates": _rewrite(deals, bad / "dates.csv", row, {"Created Date": "6/2/2025", "Close Date": "5/1/2025"}),
        "role": _rewrite(a_touches, bad / "role.csv", 3, {"Partner Role": "Cheerleader"}),
    }
    role_column = TOUCH_STYLES[0].role
    all3 = ",".join(w.ids[p] for p in PARTNERS)
    run_with = lambda f, *more: ["attribution", "run", "--agreements", w.ids["partner-a"], "--deals", f, *more]  # noqa: E731
    cases = {
        "partner runs attribution": (
            "partner-a",
            run_with(deals),
            [f"in agreement {w.ids['partner-a']} vendor is the vendor", "attribution touches"],
        ),
        "vendor uploads touches": (
            "vendor",
            ["attribution", "touches", w.ids["partner-a"], a_touches],
            [f"you are the vendor in agreement {w.ids['partner-a']}", "attribution run"],
        ),
        "no attribution in the terms (run)": (
            "vendor",
            ["attribution", "run", "--agreements", plain, "--deals", deals],
            [f"agreement {plain} does not include attribution", "--attribution"],
        ),
        "model the terms do not allow": (
            "vendor",
            ["attribution", "run", "--agreements", f"{w.ids['partner-a']},{restricted}", "--deals", deals, "--model", "linear"],
            ["model 'linear' is not allowed by the terms of", restricted, "role-split"],
        ),
        "unparseable amount": (
            "vendor",
            run_with(files["amount"]),
            [files["amount"], f"row {row}", "'Amount'", "'12,5OO.00'", "unparseable amount"],
        ),
        "negative amount": (
            "vendor",
            run_with(files["negative"]),
            [files["negative"], f"row {row}", "'Amount'", "'-1,250.00'", "negative"],
        ),
        "unknown stage": (
            "vendor",
            run_with(files["stage"]),
            [files["stage"], f"row {row}", "'Stage'", "'Closed Maybe'", "unknown stage", "Closed Won"],
        ),
        "closed before created": (
            "vendor",
            run_with(files["dates"]),
            [files["dates"], f"row {row}", "'Close Date'", "'5/1/2025'", "before the created date"],
        ),
        "unknown role": (
            "partner-a",
            ["attribution", "touches", w.ids["partner-a"], files["role"]],
            [files["role"], "row 3", repr(role_column), "'Cheerleader'", "unknown role", "sourcing", "influence"],
        ),
        "as-of in the future": (
            "vendor",
            ["attribution", "run", "--agreements", all3, "--deals", deals, "--as-of", "2999-01-01"],
            ["--as-of 2999-01-01 is in the future"],
        ),
        "bad commission period": (
            "vendor",
            [
                "attribution",
                "run",
                "--agreements",
                all3,
                "--deals",
                deals,
                "--commission-plan",
                w.plan_file,
                "--period",
                "2025-Q5",
            ],
            ["--period '2025-Q5'"],
        ),
    }
    before = _snapshot(w)
    procs = {name: client_background(w.profiles[party], *argv) for name, (party, argv, _) in cases.items()}
    results = {name: proc.communicate(timeout=120) for name, proc in procs.items()}
    problems = []
    for name, (out, err) in results.items():
        code = procs[name].returncode
        lines = err.strip().splitlines()
        missing = [s for s in cases[name][2] if s not in err]
        if code != 2 or out.strip() or len(lines) != 1 or not lines[0].startswith("error: ") or missing:
            problems.append(f"{name}: exit {code}, stdout {out.strip()[:200]!r}, stderr {err.strip()[:400]!r}, missing {missing}")
    assert problems == []
    assert _snapshot(w) == before


def test_bad_deals_file_while_touches_wait_uploads_nothing(world: World):
    """The vendor re-blinds waiting touches while it reads its deals: a bad file must still leave no trace."""
    w = world.running()
    agreement = w.agree("partner-c")
    waiting = client_json(w.profiles["partner-c"], "attribution", "touches", agreement, w.truth.paths["partner-c"])
    assert waiting["state"] == "collecting" and waiting["waiting_for"] == [
        "vendor's upload",
        "vendor's re-blinding of your points",
    ]
    row = next(d.row for d in w.truth.deals if d.matchable)
    bad = _rewrite(w.deals, w.base / "late-bad-amount.csv", row, {"Amount": "twelve"})
    args = ["attribution", "run", "--agreements", agreement, "--as-of", AS_OF.isoformat(), "--wait", "60"]
    before = _snapshot(w)
    refused = client(w.profiles["vendor"], *args, "--deals", bad, check=False)
    assert refused.returncode == 2 and f"{bad}: row {row}, column 'Amount'" in refused.stderr
    assert _snapshot(w) == before
    # The same command on the good file re-blinds the waiting touches and credits them as the ground truth says.
    syncing = client_background(w.profiles["partner-c"], "sync", agreement, "--wait", "60")
    view = client_json(w.profiles["vendor"], *args, "--deals", w.deals, "--model", "role-split")
    finish(syncing)
    w.jobs[view["job_id"]] = [(agreement, "partner-c")]  # for the audit test
    assert_vendor_view(view, w.truth, AttributionConfig(), "role-split", ("partner-c",))


def test_coordinator_refuses_the_same_requests_on_the_wire(world: World):
    """The coordinator is the authority: the same refusals without the client's own checks."""
    w = world.running()
    view = w.vendor_run("role-split")
    runs = [a["run_id"] for a in view["agreements"]]
    plain, restricted = w.extra_agreement("plain"), w.extra_agreement("restricted")
    before = _snapshot(w)
    with w.remote("partner-a") as partner, w.remote("vendor") as vendor, w.remote("partner-b") as other:
        cases = {
            "partner runs a job": (
                lambda: partner.run_attribution(runs[:1]),
                ("PermissionDenied",),
                "only the vendor of agreement",
            ),
            "future as_of": (lambda: vendor.run_attribution(runs, "", "2999-01-01"), ("InvalidArgument",), "is in the future"),
            "as_of not a date": (lambda: vendor.run_attribution(runs, "", "31/12/2025"), ("InvalidArgument",), "not an ISO date"),
            "unknown model": (
                lambda: vendor.run_attribution(runs, "magic"),
                ("InvalidArgument",),
                "unknown model 'magic'; use one of: role-split",
            ),
            "run named twice": (lambda: vendor.run_attribution([runs[0], runs[0]]), ("InvalidArgument",), "named twice"),
            "no runs": (lambda: vendor.run_attribution([]), ("InvalidArgument",), "at least one"),
            "unknown run": (lambda: vendor.run_attribution(["run_0000000000000000"]), ("NotFound",), "does not exist"),
            "another partner's release": (
                lambda: other.show_attribution(w.ids["partner-a"]),
                ("PermissionDenied", "NotFound"),
                "",
            ),
            "show without a release": (
                lambda: partner.show_attribution(restricted),
                ("FailedPrecondition",),
                "nothing has been released",
            ),
            "show without attribution": (
                lambda: partner.show_attribution(plain),
                ("FailedPrecondition",),
                "does not include attribution",
            ),
        }
        problems = []
        for name, (call, codes, text) in cases.items():
            try:
                call()
            except Exception as exc:  # the client's error types carry the gRPC status's name
                if type(exc).__name__ not in codes or text not in str(exc):
                    problems.append(f"{name}: {type(exc).__name__}: {exc}")
            else:
                problems.append(f"{name}: accepted")
    assert problems == []
    assert _snapshot(w) == before
    # A refused job is audited under the agreements of the runs it named, where compliance looks for it.
    w.stopped()
    con = duckdb.connect(str(w.coord.data_dir / "coordinator.duckdb"), read_only=True)
    try:
        denied = con.execute(
            "SELECT agreement_id, actor, details_json FROM audit_log WHERE action = 'request.denied' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
        w.running()
    by_partner = [(agreement, json.loads(details)) for agreement, actor, details in denied if actor == "partner-a"]
    assert [a for a, d in by_partner if d["method"] == "Run" and "only the vendor" in d["reason"]] == [
        view["agreements"][0]["agreement_id"]
    ]
    unknown = [a for a, actor, d in denied if actor == "vendor" and "run_0000000000000000" in json.loads(d)["reason"]]
    assert unknown == [None]


# -- 4. privacy: no identifier of the input files reaches the coordinator -------------------------------------


def _forms(value: str) -> list[bytes]:
    raw = value.encode("utf-8")
    digest = hashlib.sha256(raw).digest()
    return [
        raw,
        digest,
        digest.hex().encode(),
        hashlib.sha256(raw.lower()).digest(),
        hashlib.sha256(f"domain:{value}".encode()).digest(),
    ]


PREFIX = 6  # needles are at least this long; shorter strings occur by chance in any binary


def _found(needles: dict[bytes, str], haystack: bytes) -> list[str]:
    """What of ``needles`` occurs in ``haystack``: candidates by their first 6 bytes against every 6-byte
    window of the haystack (numpy), then each candidate checked exactly."""
    a = np.frombuffer(haystack, dtype=np.uint8).astype(np.uint64)
    n = len(a) - PREFIX + 1
    windows = np.zeros(n, dtype=np.uint64)
    for j in range(PREFIX):
        windows |= a[j : j + n] << np.uint64(8 * j)
    windows = np.unique(windows)
    prefixes = np.array([int.from_bytes(k[:PREFIX], "little") for k in needles], dtype=np.uint64)
    hit = np.isin(prefixes, windows)
    return sorted({what for (needle, what), h in zip(needles.items(), hit, strict=True) if h and needle in haystack})


def test_coordinator_never_holds_an_identifier(world: World):
    world.vendor_run("role-split")
    world.stopped()
    received = (world.base / "wire.bin").read_bytes()
    stored = b"".join(p.read_bytes() for p in world.coord.data_dir.glob("coordinator.duckdb*"))
    dump = store_values(world.coord.data_dir / "coordinator.duckdb")
    assert len(received) > 100_000 and len(dump) > 100_000
    assert json.dumps(world.latest["partners"][0]["credited_won"]).encode() in dump, "the dump holds the released figures"
    needles: dict[bytes, str] = {}
    domains: set[str] = {d.domain for d in world.truth.deals}
    files = {"deals": world.deals, **{p: world.truth.paths[p] for p in PARTNERS}}
    identifying = (
        "Opportunity ID",
        "Opportunity Name",
        "Account Name",
        "Website",
        "Company name",
        "Company Domain Name",
        "Domain",
    )
    for name, path in files.items():
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for column in identifying:
                    value = (row.get(column) or "").strip()
                    if column in ("Website", "Company Domain Name", "Domain") and value:
                        with contextlib.suppress(DomainRejected):
                            domains.add(canonical_domain(value))
                    if len(value) >= PREFIX:
                        needles[value.encode("utf-8")] = f"{name} {column} {value!r}"
    agreements = [*world.ids.values(), *world.extra.values()]
    for domain in domains:
        assert len(domain) >= PREFIX
        for form in _forms(domain):
            needles[form] = f"canonical domain {domain}"
        for agreement_id in agreements:  # the unblinded hash-to-curve point is a plain hash of the key too
            needles[hash_to_point(domain, hash_context(agreement_id, "domain"))] = f"H({domain})"
    assert len(domains) > 500 and len(needles) > 5000
    # A planted identifier is found: the search itself works.
    planted = next(iter(needles))
    assert _found({planted: "planted"}, received[:1000] + planted + received[1000:]) == ["planted"]
    for where, haystack in (("wire log", received), ("store file", stored), ("store contents", dump)):
        leaks = _found(needles, haystack)
        assert leaks == [], f"{len(leaks)} identifiers in the coordinator's {where}, e.g. {leaks[:5]}"


def test_receipts_keep_each_attribution_release_as_signed(world: World):
    w = world.running()
    view = w.vendor_run("role-split")
    shown = client_json(w.profiles["partner-a"], "attribution", "show", w.ids["partner-a"])
    for party, job in (("vendor", view["job_id"]), ("partner-a", shown["job_id"])):
        listed = client_json(w.profiles[party], "receipts")["receipts"]
        kept = [e["release"] for e in listed if e["type"] == "release" and e["release"].get("job_id") == job]
        assert kept and all(r["kind"] == "attribution" and r["signature"] for r in kept)
        if party == "vendor":  # the whole per-deal section, as released
            assert [d["ref"] for d in kept[0]["deals"]] == sorted(d["ref"] for d in kept[0]["deals"]) and len(
                kept[0]["deals"]
            ) == len(view["deals"])
        verified = client_json(w.profiles[party], "receipts", "verify")
        assert verified["ok"] is True


# -- 5. audit ----------------------------------------------------------------------------------------------


def test_audit_chain_records_every_attribution_release(world: World):
    world.vendor_run("role-split")
    world.stopped()
    export = world.base / "audit.jsonl"
    run([*COORDINATOR, "audit", "export", "--data-dir", str(world.coord.data_dir), "--out", str(export)])
    verified = json.loads(run([*COORDINATOR, "audit", "verify", str(export), "--public-key", f"{export}.pub", "--json"]).stdout)
    assert verified["ok"] is True and verified["problems"] == []
    entries = [json.loads(line) for line in export.read_text().splitlines()]
    releases = [e for e in entries if e.get("action") == "release.attribution"]
    by_job: dict[str, list[dict]] = {}
    for e in releases:
        by_job.setdefault(e["details"]["job_id"], []).append(e)
    assert set(by_job) == set(world.jobs), "one set of audit entries per job, and none for a refused request"
    for job, pairs in world.jobs.items():
        viewers = sorted((e["agreement_id"], e["details"]["viewer"]) for e in by_job[job])
        assert viewers == sorted([(a, "vendor") for a, _ in pairs] + pairs), (
            "per agreement: the vendor's release and its partner's"
        )
    # Each partner's latest audited release holds exactly its k-suppressed figures under its agreed model.
    for p in PARTNERS:
        audited = [e["details"] for e in releases if e["agreement_id"] == world.ids[p] and e["details"]["viewer"] == p][-1]
        agreed = world.configs[p]
        want = partner_release(expected(world.truth, world.configs["partner-a"], agreed.model).summaries[p], agreed)
        assert {k: audited.get(k) for k in want} == want and audited["job_id"] == world.latest["job_id"]
        assert set(audited) == set(want) | ENVELOPE - {"signature"}
    # The stored releases: as many as the audit chain records.
    con = duckdb.connect(str(world.coord.data_dir / "coordinator.duckdb"), read_only=True)
    try:
        (stored,) = con.execute("SELECT count(*) FROM releases WHERE kind = 'attribution'").fetchone()
    finally:
        con.close()
    assert stored == len(releases)
    # The disclosure report shows the figures each viewer was given.
    report = json.loads(
        run(
            [
                *COORDINATOR,
                "audit",
                "report",
                "--data-dir",
                str(world.coord.data_dir),
                "--agreement",
                world.ids["partner-a"],
                "--json",
            ]
        ).stdout
    )
    by_viewer = {v["viewer"]: v["releases"] for v in report["viewers"]}
    assert by_viewer["partner-a"] and all(r["released"].get("credited_won") for r in by_viewer["partner-a"])
    assert by_viewer["vendor"] and all(r["released"].get("deals") for r in by_viewer["vendor"] if r["kind"] == "attribution")
