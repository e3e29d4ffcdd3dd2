"""Synthetic attribution inputs with exact ground truth: a vendor's deals and P partners' touches.

The vendor's deals file is a Salesforce opportunity report (or a HubSpot deal
export); each partner's touches file has its own headers, role spellings and
date format. Keys are messy in the ways synth.py's account exports are (www.,
schemes, paths, ports, case, trailing dots, e-mails, IDN in Unicode or
punycode), independently per row and per file, and every usable spelling
canonicalises to the company's registrable domain. Some rows carry no usable
key (free-mail, garbage): such a deal is "keyless" (it can match nothing) and
such a touch is no true touch.

Companies (synth_companies.Universe, so names and domains look like the account
exports'): [0, touched) have deals and partner touches, [touched, accounts)
have deals only, then companies with partner touches but no deal; about 5% of
those are look-alikes of a deal-only company (same name stem on another public
suffix, other country) that must NOT match.

Ground truth comes from the generator's bookkeeping, never from the client's
normaliser: for every deal its id, row, true company and canonical domain,
amount, currency, outcome, stage, dates, type, and the TRUE touches: every
usable-key touch row (partner, role, date, row) on the same company, whatever
its date (the lookback window and the close date are the models' business).
A keyless deal has no true touches. Truth is for domain keys (name_key=False).

Dates are relative to ``as_of`` (default 2025-12-31): won and lost deals
closed on or before it; open deals were created before it and have an expected
close date (HubSpot style: sometimes none). Touches on a company are placed
around one of its deals: mostly within 365 days before its close (as_of for
open deals), some older, some after the close; never after as_of.

Rows are rendered and written one at a time; only the truth is kept, so 100,000
deals and 3 x 200,000 touches take seconds. One currency unless
``foreign_share`` > 0 (then that share of deals is in EUR): credits across
currencies cannot be added without a rate.

The headers and the stage, type and role spellings are in synth_deal_vocab.py.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from cleanroom.demo.synth_companies import Company, Rand, Universe, no_key, pick, website
from cleanroom.demo.synth_deal_vocab import (
    HS_DEAL_STAGES,
    HS_DEAL_TYPES,
    HUBSPOT_DEAL_HEADERS,
    LEAD_SOURCES,
    NOTES,
    ROLE_ORDER,
    ROLE_SPELLINGS,
    SALESFORCE_DEAL_HEADERS,
    SF_DEAL_STAGES,
    SF_DEAL_TYPES,
    TOUCH_STYLES,
)
from cleanroom.demo.synth_files import write_rows
from cleanroom.demo.synth_truth import AttributionTruth, TruthDeal, TruthTouch
from cleanroom.demo.synth_vocab import DOMAIN_FORMS, OWNERS, WEBSITE_FORMS

OUTCOME_MIX = (("won", 0.35), ("lost", 0.30), ("open", 0.35))
TYPE_MIX = (("new", 0.60), ("expansion", 0.25), ("renewal", 0.15))
# Each partner has its own habits: role shares (sourcing, co-sell, technical, influence), by index % 3.
ROLE_MIX = ((0.35, 0.15, 0.20, 0.30), (0.15, 0.35, 0.30, 0.20), (0.10, 0.20, 0.20, 0.50))
ON_DEAL_SHARE = 0.70  # of a partner's touches, on companies the vendor has deals with
TOUCHED_SHARE = 0.65  # of the vendor's accounts, those partners touch at all
KEYLESS_DEAL_SHARE = 0.02
KEYLESS_TOUCH_SHARE = 0.03
_PARTNER = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _choose(r: Rand, mix: Sequence[tuple[str, float]]) -> str:
    x = r()
    for value, share in mix:
        if x < share:
            return value
        x -= share
    return mix[-1][0]


def _us(d: date) -> str:
    return f"{d.month}/{d.day}/{d.year}"


def _money(r: Rand, amount: Decimal, currency: str, style: str) -> str:
    """How the CRM writes the amount: plain, grouped, with a symbol or code, European for some EUR."""
    if style == "hubspot":
        return f"{amount.normalize():f}" if r() < 0.8 else f"{amount:.2f}"
    x = r()
    if x < 0.35:
        return f"{amount:.2f}"
    if x < 0.65:
        return f"{amount:,.2f}"
    if x < 0.85:
        symbol = {"USD": "$", "EUR": "\u20ac"}.get(currency)
        if symbol is None:
            return f"{currency} {amount:,.2f}"
        return symbol + (f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}")
    if currency == "EUR":
        return "EUR " + f"{amount:,.2f}".translate(str.maketrans(",.", ".,"))
    return f"{currency} {amount:,.2f}"


@dataclass(frozen=True)
class _Deal:
    """What both CRM styles render of one deal (the plan's draws, before the row's own)."""

    i: int
    co: Company
    deal_type: str
    outcome: str
    amount: Decimal
    currency: str
    created: date
    closed: date | None
    matchable: bool


def _hubspot_deal(r: Rand, d: _Deal) -> tuple[dict[str, str], str]:
    """One HubSpot deal export row, and its stage as written."""
    stage = pick(r, HS_DEAL_STAGES[d.outcome])
    key = website(r, d.co, DOMAIN_FORMS, 0.5) if d.matchable else no_key(r)
    t = f" {int(r() * 24):02d}:{int(r() * 60):02d}"
    return {
        "Record ID": str(7_000_000_000 + d.i * 11),
        "Deal Name": f"{d.co.name} - {d.deal_type}",
        "Associated Company": d.co.name,
        "Company Domain Name": key,
        "Amount": _money(r, d.amount, d.currency, "hubspot"),
        "Deal currency code": "" if d.currency == "USD" and r() < 0.1 else d.currency,
        "Deal Stage": stage,
        "Create Date": d.created.isoformat() + t,
        "Close Date": "" if d.closed is None else d.closed.isoformat() + t,
        "Deal Type": pick(r, HS_DEAL_TYPES[d.deal_type]),
        "Deal owner": pick(r, OWNERS),
        "Country/Region": pick(r, d.co.countries),
    }, stage


def _salesforce_deal(r: Rand, d: _Deal) -> tuple[dict[str, str], str]:
    """One Salesforce opportunity report row, and its stage as written."""
    stage = pick(r, SF_DEAL_STAGES[d.outcome])
    key = website(r, d.co, WEBSITE_FORMS, 0.5) if d.matchable else no_key(r)
    return {
        "Opportunity ID": f"006Hs{d.i:010X}",
        "Opportunity Name": f"{d.co.name} - {d.deal_type.title()} {d.created.year}",
        "Account Name": d.co.name.upper() if r() < 0.04 else d.co.name,
        "Website": key,
        "Amount": _money(r, d.amount, d.currency, "salesforce"),
        "Opportunity Currency": d.currency,
        "Stage": stage,
        "Created Date": _us(d.created),
        "Close Date": _us(d.closed),  # type: ignore[arg-type]  # Salesforce always has one
        "Type": pick(r, SF_DEAL_TYPES[d.deal_type]),
        "Opportunity Owner": pick(r, OWNERS),
        "Billing Country": pick(r, d.co.countries),
        "Lead Source": pick(r, LEAD_SOURCES),
    }, stage


class _Plan:
    def __init__(self, deals: int, partners: Sequence[str], touches: int, seed: int, as_of: date, foreign_share: float) -> None:
        if not isinstance(deals, int) or deals < 1:
            raise ValueError(f"deals must be a positive integer, got {deals!r}")
        if not isinstance(touches, int) or touches < 1:
            raise ValueError(f"touches must be a positive integer (per partner), got {touches!r}")
        if not partners:
            raise ValueError("at least one partner is needed")
        bad = [p for p in partners if not isinstance(p, str) or not _PARTNER.match(p)]
        if bad:
            raise ValueError(f"partner names must be lower-case words like 'partner-a', got {bad[0]!r}")
        if len(set(partners)) != len(partners):
            raise ValueError("partner names must be distinct")
        if not 0 <= foreign_share <= 1:
            raise ValueError(f"foreign_share must be between 0 and 1, got {foreign_share!r}")
        self.seed, self.as_of, self.partners = seed, as_of, tuple(partners)
        self.n_deals, self.n_touches, self.foreign_share = deals, touches, foreign_share
        self.accounts = max(1, round(deals / 1.4))  # several deals on some accounts
        self.touched = max(1, math.ceil(self.accounts * TOUCHED_SHARE))
        self.touch_only = max(4, touches * len(partners) // 10)
        total = self.accounts + self.touch_only
        self.universe = Universe(seed, self.accounts, self.touched + self.touch_only, self.touched, total + 1)
        rng = random.Random(f"{seed}/deals/plan")
        plan = list(range(self.accounts)) + [int(rng.random() * self.accounts) for _ in range(deals - self.accounts)]
        rng.shuffle(plan)
        self.deal_company = plan  # deal index -> company
        self.deals_of: dict[int, list[int]] = {}
        for i, c in enumerate(plan):
            self.deals_of.setdefault(c, []).append(i)

    # --- deals ---

    def deal_rows(self, style: str, out: list[TruthDeal]) -> Iterator[dict[str, str]]:
        """Rows of the deals file; appends each deal's truth (touches still empty) to ``out``."""
        r = random.Random(f"{self.seed}/deals/render").random
        company = self.universe.company
        for i, c in enumerate(self.deal_company):
            co = company(c)
            outcome = _choose(r, OUTCOME_MIX)
            deal_type = _choose(r, TYPE_MIX)
            currency = "EUR" if r() < self.foreign_share else "USD"
            dollars = int(1000 * 10 ** (r() * 2.5)) // 50 * 50
            amount = Decimal(dollars * 100 + (int(r() * 100) if r() < 0.2 else 0)).scaleb(-2)
            cycle = 7 + int(r() ** 1.5 * 300)
            if outcome == "open":
                created = self.as_of - timedelta(days=1 + int(r() * 300))
                closed: date | None = max(created, self.as_of) + timedelta(days=7 + int(r() * 180))
                if style == "hubspot" and r() < 0.1:
                    closed = None
            else:
                closed = self.as_of - timedelta(days=int(r() * 700))
                created = closed - timedelta(days=cycle)
            matchable = r() >= KEYLESS_DEAL_SHARE
            deal = _Deal(i, co, deal_type, outcome, amount, currency, created, closed, matchable)
            if style == "hubspot":
                row, stage = _hubspot_deal(r, deal)
                deal_id = row["Record ID"]
            else:
                row, stage = _salesforce_deal(r, deal)
                deal_id = row["Opportunity ID"]
            out.append(
                TruthDeal(
                    deal_id, i + 1, c, co.domain, amount, currency, outcome, stage, deal_type, created, closed, matchable, ()
                )
            )
            yield row

    # --- touches ---

    def touch_rows(
        self, index: int, deals: list[TruthDeal], found: dict[int, list[TruthTouch]], counts: dict[str, int]
    ) -> Iterator[dict[str, str]]:
        """Rows of partner ``index``'s file; true touches go to found[company]."""
        partner = self.partners[index]
        st = TOUCH_STYLES[index % len(TOUCH_STYLES)]
        mix = ROLE_MIX[index % len(ROLE_MIX)]
        r = random.Random(f"{self.seed}/touches/{partner}").random
        company = self.universe.company
        slice_size = max(1, self.touched // len(self.partners))
        slice_start = (index * slice_size) % self.touched
        for i in range(self.n_touches):
            if r() < ON_DEAL_SHARE:
                c = int(r() * self.touched) if r() < 0.5 else (slice_start + int(r() * slice_size)) % self.touched
                d = deals[self.deals_of[c][int(r() * len(self.deals_of[c]))]]
                ref = self.as_of if d.outcome == "open" or d.closed is None else d.closed
                x = r()
                if x < 0.70:
                    day = ref - timedelta(days=int(r() * 365))
                elif x < 0.85:
                    day = ref - timedelta(days=366 + int(r() * 400))
                else:
                    day = min(ref + timedelta(days=1 + int(r() * 60)), self.as_of)
            else:
                c = self.accounts + int(r() * self.touch_only)
                day = self.as_of - timedelta(days=int(r() * 900))
            co: Company = company(c)
            x = r()
            role = ROLE_ORDER[0 if x < mix[0] else 1 if x < mix[0] + mix[1] else 2 if x < mix[0] + mix[1] + mix[2] else 3]
            usable = r() >= KEYLESS_TOUCH_SHARE
            if usable:
                if c < self.accounts:
                    found.setdefault(c, []).append(TruthTouch(partner, role, day, i + 1))
                else:
                    counts["off_deal"] += 1
                    counts["lookalike"] += self.universe.twin_of(c) is not None
            else:
                counts["rejected"] += 1
            if st.date_format == "us":
                written = _us(day)
            elif st.date_format == "iso":
                written = day.isoformat()
            else:
                written = f"{day.isoformat()} {int(r() * 24):02d}:{int(r() * 60):02d}"
            row = {
                st.name: co.name.upper() if r() < 0.04 else co.name,
                st.key: website(r, co, st.forms, 0.5) if usable else no_key(r),
                st.role: pick(r, ROLE_SPELLINGS[role]),
                st.date: written,
                st.country: pick(r, co.countries),
            }
            for h in st.headers:
                if h not in row:
                    row[h] = pick(r, OWNERS) if h in ("Partner Rep", "Owner") else pick(r, NOTES)
            yield row


def write_attribution_set(
    out_dir: Path | str,
    *,
    deals: int = 2000,
    partners: Sequence[str] = ("partner-a", "partner-b", "partner-c"),
    touches: int = 3000,
    seed: int = 7,
    style: str = "salesforce",
    fmt: str = "csv",
    as_of: date = date(2025, 12, 31),
    foreign_share: float = 0.0,
) -> AttributionTruth:
    """Write the vendor's deals file, one touches file per partner and ground_truth.json; return the truth.

    ``touches`` is per partner. ``style``: "salesforce" (opportunity report) or "hubspot" (deal export).
    ``fmt``: csv (default), parquet or xlsx for every file."""
    if style not in ("salesforce", "hubspot"):
        raise ValueError(f"unknown style {style!r} (salesforce or hubspot)")
    if fmt not in ("csv", "parquet", "xlsx"):
        raise ValueError(f"unknown format {fmt!r} (csv, parquet or xlsx)")
    plan = _Plan(deals, partners, touches, seed, as_of, foreign_share)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    truth_deals: list[TruthDeal] = []
    name = "vendor_salesforce_opportunities" if style == "salesforce" else "vendor_hubspot_deals"
    headers = SALESFORCE_DEAL_HEADERS if style == "salesforce" else HUBSPOT_DEAL_HEADERS
    path = out / f"{name}.{fmt}"
    write_rows(plan.deal_rows(style, truth_deals), deals, headers, path, fmt)
    paths["deals"] = str(path)
    found: dict[int, list[TruthTouch]] = {}
    touch_rows, rejected, off_deal, lookalike = {}, {}, {}, {}
    for index, partner in enumerate(plan.partners):
        counts = {"rejected": 0, "off_deal": 0, "lookalike": 0}
        path = out / f"touches_{partner}.{fmt}"
        write_rows(
            plan.touch_rows(index, truth_deals, found, counts),
            touches,
            TOUCH_STYLES[index % len(TOUCH_STYLES)].headers,
            path,
            fmt,
        )
        paths[partner] = str(path)
        touch_rows[partner], rejected[partner] = touches, counts["rejected"]
        off_deal[partner], lookalike[partner] = counts["off_deal"], counts["lookalike"]
    order = lambda t: (t.day, t.partner, t.row)  # noqa: E731
    by_company = {c: tuple(sorted(ts, key=order)) for c, ts in found.items()}
    final = [replace(d, touches=by_company.get(d.company, ())) if d.matchable else d for d in truth_deals]
    paths["ground_truth"] = str(out / "ground_truth.json")
    truth = AttributionTruth(seed, as_of, style, plan.partners, paths, final, touch_rows, rejected, off_deal, lookalike)
    truth.write_json(paths["ground_truth"])
    return truth
