"""A coordinator data dir with released overlaps and attribution, built in-process (fast), for the REST/page tests.

The REST layer reads what the coordinator stored; how the runs got there is
covered by the gRPC end-to-end tests (and one REST test here drives real
client processes). Parties:

- vendor x partner-a: vendor brings customer/prospect/opportunity, partner-a
  customer/prospect; one cell below k=5 (suppressed). Released to both.
- vendor x partner-b: one population each; released to vendor.
- vendor x partner-c: differential privacy (epsilon 1, budget 3); released to vendor.
- vendor x partner-d: a complete run that was never released (REST must not release it).
- partner-x x partner-y: an agreement the vendor is not in.
- vendor x partner-a and vendor x partner-b attribution agreements, one job over both.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from cleanroom.attribution import AttributionConfig
from cleanroom.attribution.recordio import encode_deals, encode_touches
from cleanroom.attribution.records import Deal
from cleanroom.coordinator.attribution_jobs import run_attribution
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.web.auth import ApiKeys
from cleanroom.demo.localrun import LocalCoordinator
from cleanroom.terms import build_terms, canonical_json

from inprocess import run

AS_OF = "2025-12-31"


def _agree(coord: Coordinator, a: str, b: str, pops_a, pops_b, **options) -> dict:
    terms = build_terms(a, b, list(pops_a), list(pops_b), min_set_size=10, **options)
    agreement = coord.propose(a, b, canonical_json(terms))
    return coord.approve(b, agreement["agreement_id"], agreement["terms_hash"])


def _domains(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}.example" for i in range(n)]


def _bits(*ones: int) -> int:
    return sum(1 << i for i in ones)


def build(tmp: Path) -> dict:
    """Build the data dir under ``tmp``; returns ids and API keys (the store is closed again)."""
    data_dir = DataDir(tmp / "coord")
    data_dir.init(listen="127.0.0.1:0")
    store = Store(data_dir.store_path, data_dir.signer())
    coord = Coordinator(store)
    ids: dict[str, str] = {}

    # vendor x partner-a: 3 x 2 populations. Shared accounts 0..59; population bits chosen per account.
    a = _agree(coord, "vendor", "partner-a", ["customer", "prospect", "opportunity"], ["customer", "prospect"])
    shared = _domains("shared-a", 60)
    vendor_keys = shared + _domains("vendor-only", 90)
    partner_keys = shared + _domains("a-only", 40)
    # vendor: shared 0-39 customer, 40-56 prospect, 57-59 opportunity (3 < k: suppressed cells)
    vendor_masks = [_bits(0) if i < 40 else _bits(1) if i < 57 else _bits(2) for i in range(60)] + [_bits(0)] * 90
    # partner-a: shared even -> customer, odd -> prospect
    partner_masks = [_bits(0) if i % 2 == 0 else _bits(1) for i in range(60)] + [_bits(1)] * 40
    run(coord, a, {"vendor": vendor_keys, "partner-a": partner_keys}, {"vendor": vendor_masks, "partner-a": partner_masks})
    coord.overlap("vendor", a["agreement_id"])
    coord.overlap("partner-a", a["agreement_id"])
    ids["a"] = a["agreement_id"]

    # vendor x partner-b: customer x customer, 120 shared.
    b = _agree(coord, "vendor", "partner-b", ["customer"], ["customer"])
    run(
        coord,
        b,
        {"vendor": _domains("shared-b", 120) + _domains("vb", 30), "partner-b": _domains("shared-b", 120) + _domains("pb", 200)},
    )
    coord.overlap("vendor", b["agreement_id"])
    ids["b"] = b["agreement_id"]

    # vendor x partner-c: differential privacy.
    c = _agree(coord, "vendor", "partner-c", ["customer"], ["customer"], dp_epsilon=1.0, dp_budget=3.0)
    run(
        coord,
        c,
        {"vendor": _domains("shared-c", 80) + _domains("vc", 40), "partner-c": _domains("shared-c", 80) + _domains("pc", 20)},
    )
    coord.overlap("vendor", c["agreement_id"])
    ids["c"] = c["agreement_id"]

    # vendor x partner-d: complete, never released.
    d = _agree(coord, "vendor", "partner-d", ["customer"], ["customer"])
    ids["d_run"] = run(
        coord,
        d,
        {"vendor": _domains("shared-d", 30) + _domains("vd", 30), "partner-d": _domains("shared-d", 30) + _domains("pd", 30)},
    )
    ids["d"] = d["agreement_id"]

    # partner-x x partner-y: the vendor is not a party.
    x = _agree(coord, "partner-x", "partner-y", ["customer"], ["customer"])
    ids["x"] = x["agreement_id"]

    # Attribution: one job over two partner agreements.
    ids.update(_attribution(coord))

    keys = ApiKeys(store)
    made = {
        "analyst": keys.create("vendor", "analyst", "test analyst"),
        "auditor": keys.create("vendor", "auditor", "test auditor"),
        "admin": keys.create("", "admin", "test admin"),
        "vendor_admin": keys.create("vendor", "admin", "an admin acting for the vendor (its releases by default)"),
        "partner_a_analyst": keys.create("partner-a", "analyst"),
        "partner_a_auditor": keys.create("partner-a", "auditor"),
        "partner_x_auditor": keys.create("partner-x", "auditor"),
    }
    store.close()
    return {
        "data_dir": data_dir.path,
        "ids": ids,
        "keys": {name: k["key"] for name, k in made.items()},
        "key_ids": {name: k["key_id"] for name, k in made.items()},
    }


def _attribution(coord: Coordinator) -> dict[str, str]:
    config = AttributionConfig()
    deals_accounts = _domains("deal", 40)
    deal_lines = []
    for ref in range(40):
        outcome = ("won", "lost", "open")[ref % 3]
        created = dt.date(2025, 1, 1) + dt.timedelta(days=ref * 3)
        closed = None if outcome == "open" else created + dt.timedelta(days=60 + ref)
        deal_lines.append(
            Deal(
                ref=ref,
                account=ref,
                amount=Decimal(1000 + 250 * ref),
                currency="USD",
                outcome=outcome,
                created=created,
                closed=closed,
            )
        )
    deals = encode_deals(deal_lines).tobytes()
    out, runs = {}, []
    for name, roles, span in (
        ("partner-a", ("sourcing", "influence"), range(0, 30)),
        ("partner-b", ("technical", "influence"), range(10, 40)),
    ):
        agreement = _agree(coord, "vendor", name, ["customer"], ["customer"], attribution=config)
        touched = [deals_accounts[i] for i in span] + _domains(f"{name}-noise", 15)
        touches = encode_touches(
            list(range(len(span))),
            [roles[j % 2] for j in range(len(span))],
            [dt.date(2025, 1, 1) + dt.timedelta(days=3 * i + 20) for i in span],
        ).tobytes()
        runs.append(
            run(
                coord,
                agreement,
                {"vendor": deals_accounts, name: touched},
                records={"vendor": deals, name: touches},
                purpose="attribution",
            )
        )
        out[f"attr_{name}"] = agreement["agreement_id"]
    out["job"] = run_attribution(coord, "vendor", runs, as_of=AS_OF)["release_id"]
    return out


@pytest.fixture(scope="session")
def web_server(tmp_path_factory):
    """A real coordinator process serving the built data over gRPC and HTTP (shared by the web tests)."""
    built = build(tmp_path_factory.mktemp("web"))
    coordinator = LocalCoordinator(built["data_dir"], http=True).start()
    try:
        yield {**built, "url": coordinator.http_url, "coordinator": coordinator}
    finally:
        coordinator.stop()
