"""Synthetic CRM exports with exact ground truth, for the demo, tests and benchmarks.

A vendor's Salesforce account report and a partner's HubSpot company export
with a known set of shared companies and the messiness real exports have:
URLs with schemes, paths, queries and ports, upper case, trailing dots,
``www.`` and deeper subdomains, e-mails instead of websites, IDN domains in
Unicode on one side and punycode on the other, multi-level public suffixes,
look-alike companies on another suffix that must NOT match, duplicate rows
with different stages, free-mail / disposable / empty / garbage keys, and
stages that map to no population.

Ground truth comes from the generator's own bookkeeping (which company each
row belongs to, its population, whether it has a usable key), never from the
client's normaliser. Generation is two-phase so a million rows per side fit in
bounded memory: a *plan* (one int per row) fixes every row's company,
population and usability, and therefore the ground truth; rows are then
rendered lazily from the plan with a separate RNG (cosmetics only). The
companies and the spellings of their keys are in synth_companies.py (shared
with synth_deals.py); the tables rows are drawn from (headers, stage spellings,
name parts, key spellings) are in synth_vocab.py.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import chain, count
from pathlib import Path

from cleanroom.demo.synth_companies import Universe, no_key, pick, website
from cleanroom.demo.synth_files import write_rows
from cleanroom.demo.synth_vocab import (
    DOMAIN_FORMS,
    GARBAGE,
    HS_STAGES,
    HUBSPOT_HEADERS,
    INDUSTRIES,
    OWNERS,
    SALESFORCE_HEADERS,
    SF_TYPES,
    WEBSITE_FORMS,
)

POPULATIONS = ("customer", "prospect", "opportunity")
UNMAPPED = 3  # plan code: a stage that maps to no population

VENDOR_MIX = (0.30, 0.75)  # cumulative: 30% customers, 45% prospects, 25% opportunities
PARTNER_MIX = (0.25, 0.80)


@dataclass
class GroundTruth:
    vendor_accounts: int
    partner_accounts: int
    overlap: int
    matrix: dict[str, dict[str, int]]  # matrix[vendor population][partner population] = shared companies in both
    vendor_rejected_rows: int
    partner_rejected_rows: int
    vendor_rows: int
    partner_rows: int

    def to_json(self) -> dict:
        return asdict(self)


def _plan(
    rng: random.Random,
    companies: Iterable[int],
    mix: tuple[float, float],
    near_miss: Sequence[int],
    fresh: Iterator[int],
    junk: int,
    mask: bytearray,
) -> tuple[list[int], int]:
    """One int per row: company * 8 + population code * 2 + (1 if the row has no usable key).

    Sets mask[c] to the company's population bitmask (union over its usable rows);
    returns the shuffled plan and the number of rejected rows."""
    rows: list[int] = []
    add = rows.append
    lo, hi = mix

    def pop() -> int:
        r = rng.random()
        return 0 if r < lo else 1 if r < hi else 2

    rejected = 0
    for c in companies:
        r = rng.random()
        m = 0
        for _ in range(1 if r < 0.90 else 2 if r < 0.98 else 3):  # duplicates, possibly with other stages
            p = pop()
            m |= 1 << p
            add(c * 8 + p * 2)
        mask[c] = m
        r = rng.random()
        if r < 0.03:  # an extra row with an unmapped stage (sometimes no key either): rejected, changes nothing
            add(c * 8 + UNMAPPED * 2 + (r < 0.01))
            rejected += 1
        elif r < 0.05:  # an extra row with a mapped stage but only a free-mail / empty / garbage key
            add(c * 8 + pop() * 2 + 1)
            rejected += 1
    for i in range(junk):  # rows that yield no account
        kind = i % 4
        if kind < 2 and near_miss:  # a company the OTHER side has: must not count as overlap
            c = near_miss[rng.randrange(len(near_miss))]
            add(c * 8 + (UNMAPPED * 2 if kind == 0 else pop() * 2 + 1))
        else:  # a company only this side mentions, unusable either way
            add(next(fresh) * 8 + (UNMAPPED * 2 + (kind == 3) if kind >= 2 else pop() * 2 + 1))
        rejected += 1
    rng.shuffle(rows)
    return rows, rejected


class _Pair:
    def __init__(self, vendor_accounts: int, partner_accounts: int, overlap: int, seed: int) -> None:
        for label, value in (("vendor_accounts", vendor_accounts), ("partner_accounts", partner_accounts), ("overlap", overlap)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{label} must be a non-negative integer, got {value!r}")
        if overlap > min(vendor_accounts, partner_accounts):
            raise ValueError(f"overlap ({overlap}) cannot exceed the smaller side ({min(vendor_accounts, partner_accounts)})")
        self.seed = seed
        v, p, o = vendor_accounts, partner_accounts, overlap
        junk_v, junk_p = max(8, v // 40), max(8, p // 40)
        known = v + p - o
        size = known + junk_v + junk_p
        self.universe = Universe(seed, v, p, o, size)
        fresh = count(known)
        masks = bytearray(size), bytearray(size)
        self.vendor_plan, v_rej = _plan(
            random.Random(f"{seed}/vendor/plan"), range(v), VENDOR_MIX, range(v, known), fresh, junk_v, masks[0]
        )
        self.partner_plan, p_rej = _plan(
            random.Random(f"{seed}/partner/plan"),
            chain(range(o), range(v, known)),
            PARTNER_MIX,
            range(o, v),
            fresh,
            junk_p,
            masks[1],
        )
        self.masks = masks
        pairs = Counter(zip(*masks, strict=True))  # (vendor mask, partner mask) -> companies
        matrix = {vp: {pp: 0 for pp in POPULATIONS} for vp in POPULATIONS}
        for (vm, pm), n in pairs.items():
            if vm and pm:
                for i, vp in enumerate(POPULATIONS):
                    for j, pp in enumerate(POPULATIONS):
                        if vm >> i & 1 and pm >> j & 1:
                            matrix[vp][pp] += n
        self.truth = GroundTruth(
            vendor_accounts=size - masks[0].count(0),
            partner_accounts=size - masks[1].count(0),
            overlap=sum(n for (vm, pm), n in pairs.items() if vm and pm),
            matrix=matrix,
            vendor_rejected_rows=v_rej,
            partner_rejected_rows=p_rej,
            vendor_rows=len(self.vendor_plan),
            partner_rows=len(self.partner_plan),
        )

    def shared_accounts(self) -> Iterator[tuple[str, list[str], list[str]]]:
        """(canonical domain, vendor populations, partner populations) of every company both sides have."""
        vendor, partner = self.masks
        for c in range(self.universe.overlap):
            if vendor[c] and partner[c]:
                yield (
                    self.universe.company(c).domain,
                    [p for i, p in enumerate(POPULATIONS) if vendor[c] >> i & 1],
                    [p for i, p in enumerate(POPULATIONS) if partner[c] >> i & 1],
                )

    # --- rendering: cosmetic randomness only; what a row means is fixed by the plan ---
    # Rows are rendered with rng.random() and indexing: rng.choice/randint cost ~5x more, and
    # rendering dominates the time for a million rows.

    def vendor_rows(self) -> Iterator[dict[str, str]]:
        r = random.Random(f"{self.seed}/vendor/render").random
        company = self.universe.company
        for i, e in enumerate(self.vendor_plan):
            co = company(e >> 3)
            yield {
                "Account ID": f"0015g{i:010X}",
                "Account Name": co.name.upper() if r() < 0.04 else co.name,
                "Website": no_key(r) if e & 1 else website(r, co, WEBSITE_FORMS, 0.7),
                "Type": pick(r, SF_TYPES[(e >> 1) & 3]),
                "Billing Country": pick(r, co.countries),
                "Account Owner": pick(r, OWNERS),
                "Industry": pick(r, INDUSTRIES),
                "Annual Revenue": "" if r() < 0.15 else str(int(r() * 2000 + 1) * 50_000),
                "Last Activity": "" if r() < 0.1 else f"{int(r() * 12) + 1}/{int(r() * 28) + 1}/{2025 + (r() < 0.6)}",
            }

    def partner_rows(self) -> Iterator[dict[str, str]]:
        r = random.Random(f"{self.seed}/partner/render").random
        company = self.universe.company
        for i, e in enumerate(self.partner_plan):
            co = company(e >> 3)
            if e & 1:  # neither column usable
                domain, url = no_key(r), pick(r, GARBAGE)
            else:
                x = r()
                url = website(r, co, WEBSITE_FORMS, 0.3)
                if x < 0.60:  # the usual: a domain, and a URL (or none)
                    domain = website(r, co, DOMAIN_FORMS, 0.3)
                    url = "" if x < 0.15 else url
                elif x < 0.85:  # no domain: the client must fall back to the URL
                    domain = pick(r, ("", "", "-"))
                elif x < 0.95:  # an unusable domain (free-mail, garbage): fall back to the URL
                    domain = no_key(r) or "n/a"
                else:  # a usable domain and a garbage URL
                    domain, url = website(r, co, DOMAIN_FORMS, 0.3), pick(r, GARBAGE)
            stage = pick(r, HS_STAGES[(e >> 1) & 3])
            x = r()
            yield {
                "Record ID": str(5_100_000_000 + i * 7),
                "Company name": co.name.upper() if r() < 0.04 else co.name,
                "Company Domain Name": domain,
                "Website URL": url,
                "Lifecycle Stage": stage.upper() if x < 0.05 else stage.lower() if x < 0.10 else stage,  # random case
                "Country/Region": pick(r, co.countries),
                "Company owner": pick(r, OWNERS),
                "Annual Revenue": "" if r() < 0.15 else str(int(r() * 2000 + 1) * 50_000),
                "Last Activity Date": ""
                if r() < 0.1
                else f"{2025 + (r() < 0.6)}-{int(r() * 12) + 1:02d}-{int(r() * 28) + 1:02d} {int(r() * 24):02d}:{int(r() * 60):02d}",
            }


def generate_pair(
    vendor_accounts: int = 20_000, partner_accounts: int = 15_000, overlap: int = 4_000, seed: int = 7
) -> tuple[list[dict[str, str]], list[dict[str, str]], GroundTruth]:
    """Vendor (Salesforce) rows, partner (HubSpot) rows and the exact ground truth, deterministic per seed."""
    pair = _Pair(vendor_accounts, partner_accounts, overlap, seed)
    return list(pair.vendor_rows()), list(pair.partner_rows()), pair.truth


def write_pair(
    out_dir: Path,
    vendor_accounts: int = 20_000,
    partner_accounts: int = 15_000,
    overlap: int = 4_000,
    seed: int = 7,
    formats: Sequence[str] = ("csv",),
    shared_accounts: bool = False,
) -> dict[str, str]:
    """Write the vendor file, partner file (per format) and ground_truth.json; returns their paths.

    Keys "vendor" and "partner" name the first format's files; with several formats
    every file is also listed as "vendor_<fmt>" / "partner_<fmt>"."""
    if not formats:
        raise ValueError("at least one format is needed")
    pair = _Pair(vendor_accounts, partner_accounts, overlap, seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for fmt in formats:
        vendor, partner = out_dir / f"vendor_salesforce_accounts.{fmt}", out_dir / f"partner_hubspot_companies.{fmt}"
        write_rows(pair.vendor_rows(), pair.truth.vendor_rows, SALESFORCE_HEADERS, vendor, fmt)
        write_rows(pair.partner_rows(), pair.truth.partner_rows, HUBSPOT_HEADERS, partner, fmt)
        paths.setdefault("vendor", str(vendor))
        paths.setdefault("partner", str(partner))
        if len(formats) > 1:
            paths[f"vendor_{fmt}"], paths[f"partner_{fmt}"] = str(vendor), str(partner)
    truth_path = out_dir / "ground_truth.json"
    truth_path.write_text(json.dumps(pair.truth.to_json(), indent=2) + "\n", encoding="utf-8")
    paths["ground_truth"] = str(truth_path)
    if shared_accounts:  # per-company ground truth, for checking account-level reveal
        shared_path = out_dir / "shared_accounts.csv"
        with open(shared_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["domain", "vendor_populations", "partner_populations"])
            writer.writerows([domain, ";".join(v), ";".join(p)] for domain, v, p in pair.shared_accounts())
        paths["shared_accounts"] = str(shared_path)
    return paths
