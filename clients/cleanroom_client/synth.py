"""Synthetic CRM exports with exact ground truth, for the demo, tests and benchmarks.

A vendor's Salesforce account report and a partner's HubSpot company export,
with a known set of shared companies and the messiness real exports have:
URLs with schemes, paths and ports, upper case, trailing dots, subdomains,
e-mails instead of websites, IDN domains written in Unicode on one side and
punycode on the other, duplicate rows with different stages, free-mail-only
rows, empty and garbage websites, stages that map to no population, and
look-alike companies on another public suffix that must NOT match.

The ground truth is computed from the generator's own bookkeeping (which
company each row belongs to and whether the row is usable), never by running
the client's normaliser.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

POPULATIONS = ("customer", "prospect", "opportunity")
SALESFORCE_HEADERS = ["Account ID", "Account Name", "Website", "Type", "Billing Country", "Account Owner", "Industry", "Annual Revenue", "Last Activity"]
HUBSPOT_HEADERS = ["Record ID", "Company name", "Company Domain Name", "Website URL", "Lifecycle Stage", "Country/Region", "Company owner", "Annual Revenue", "Last Activity Date"]

SF_STAGES = [("Customer - Direct", "customer"), ("Customer - Channel", "customer"), ("Prospect", "prospect"), ("Opportunity", "opportunity")]
SF_UNMAPPED = ["Partner", "Competitor", "Other", ""]
HS_STAGES = [
    ("customer", "customer"), ("Customer", "customer"), ("evangelist", "customer"),
    ("lead", "prospect"), ("subscriber", "prospect"), ("marketingqualifiedlead", "prospect"),
    ("salesqualifiedlead", "prospect"), ("Sales Qualified Lead", "prospect"), ("LEAD", "prospect"),
    ("opportunity", "opportunity"), ("Opportunity", "opportunity"),
]
HS_UNMAPPED = ["other", ""]
SUFFIXES = [".com"] * 10 + [".io", ".net", ".co.uk", ".com.au", ".de", ".co.jp", ".fr", ".ai", ".org", ".com.br"]
WORDS_A = ["acme", "globex", "initech", "umbrella", "stark", "wayne", "wonka", "hooli", "vandelay", "tyrell", "cyberdyne", "soylent",
           "aperture", "blue", "red", "north", "south", "bright", "quantum", "nimbus", "vertex", "summit", "pioneer", "atlas", "delta"]
WORDS_B = ["labs", "systems", "works", "data", "cloud", "health", "bank", "logistics", "foods", "energy", "media", "robotics",
           "analytics", "security", "retail", "motors", "capital", "bio", "software", "networks"]
IDN_STEMS = ["münchen-bau", "zürich-data", "köln-logistik", "malmö-tech", "québec-soft", "são-paulo-log", "ålesund-fisk", "düsseldorf-med"]
LEGAL = ["Inc", "Inc.", "LLC", "Ltd", "GmbH", "Corp", "", "", "S.A.", "Pty Ltd", "B.V."]
COUNTRIES = ["United States", "USA", "US", "United Kingdom", "UK", "Germany", "France", "Australia", "Japan", "Canada", "Brazil"]
OWNERS = ["Dana Scully", "Fox Mulder", "Walter Skinner", "Monica Reyes", "John Doggett", "Jeffrey Spender"]
INDUSTRIES = ["Software", "Healthcare", "Finance", "Manufacturing", "Retail", "Energy", "Media", "Logistics"]
FREEMAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "gmx.de", "proton.me"]
GARBAGE = ["", "n/a", "-", "http://", "N/A", "none", "   "]


@dataclass
class GroundTruth:
    vendor_accounts: int
    partner_accounts: int
    overlap: int
    matrix: dict[str, dict[str, int]]  # matrix[vendor population][partner population]
    vendor_rows: int
    partner_rows: int
    vendor_rejected_rows: int
    partner_rejected_rows: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class _Company:
    label: str  # registrable domain, ASCII (punycode for IDN)
    unicode_label: str | None  # the Unicode spelling, for IDN companies
    name: str
    country: str


def _idna(label: str) -> str:
    return label.encode("idna").decode("ascii")


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used: set[str] = set()
        self.row_id = 0

    def company(self, index: int, suffix: str | None = None, stem: str | None = None) -> _Company:
        rng = self.rng
        if stem is None and rng.random() < 0.01:
            stem = f"{rng.choice(IDN_STEMS)}{index}"
            unicode_label = stem + rng.choice([".de", ".ch", ".se", ".com"])
            label = _idna(unicode_label)
        else:
            stem = stem or f"{rng.choice(WORDS_A)}{rng.choice(WORDS_B)}{index}"
            label = stem + (suffix or rng.choice(SUFFIXES))
            unicode_label = None
        assert label not in self.used, label  # distinct companies never share a registrable domain
        self.used.add(label)
        name = f"{stem.split('.')[0].replace('-', ' ').title()} {rng.choice(LEGAL)}".strip()
        return _Company(label, unicode_label, name, rng.choice(COUNTRIES))

    def website(self, company: _Company) -> str:
        """One messy spelling of the company's website; all canonicalise to company.label."""
        rng = self.rng
        host = company.unicode_label if company.unicode_label and rng.random() < 0.5 else company.label
        return rng.choice([
            host, host, host.upper(), f"{host}.", f" www.{host} ", f"https://www.{host}/about?x=1", f"http://{host}:8080",
            f"https://{host}/en-us/", f"http://app.{host}", f"https://eu.app.{host}/login", f"contact@{host}", f"HTTPS://WWW.{host.upper()}/",
            f"www.{host}", f"sales@{host}",
        ])

    def common(self, company: _Company) -> dict[str, str]:
        rng = self.rng
        self.row_id += 1
        return {
            "id": f"{self.row_id:08d}",
            "owner": rng.choice(OWNERS),
            "industry": rng.choice(INDUSTRIES),
            "revenue": str(rng.randrange(1, 500) * 100_000),
            "activity": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}",
        }


def _sf_row(g: _Generator, company: _Company, website: str, stage: str) -> dict[str, str]:
    c = g.common(company)
    return {
        "Account ID": f"001{c['id']}", "Account Name": company.name, "Website": website, "Type": stage,
        "Billing Country": company.country, "Account Owner": c["owner"], "Industry": c["industry"],
        "Annual Revenue": c["revenue"], "Last Activity": c["activity"],
    }


def _hs_row(g: _Generator, company: _Company, website: str, stage: str) -> dict[str, str]:
    c = g.common(company)
    rng = g.rng
    # Usually the bare domain in "Company Domain Name" and a URL in "Website URL";
    # sometimes only the URL is filled in (the client must fall back to it).
    if rng.random() < 0.7:
        domain_name, url = website, f"https://www.{company.label}"
    else:
        domain_name, url = rng.choice(["", "-"]), website
    return {
        "Record ID": c["id"], "Company name": company.name, "Company Domain Name": domain_name, "Website URL": url,
        "Lifecycle Stage": stage, "Country/Region": company.country, "Company owner": c["owner"],
        "Annual Revenue": c["revenue"], "Last Activity Date": c["activity"],
    }


def _side(g: _Generator, companies: list[_Company], stages, unmapped, make_row, junk_rows: int) -> tuple[list[dict], dict[str, set[str]], int]:
    """Rows for one side, the population set of every company present, and the rejected-row count."""
    rng = g.rng
    rows: list[dict] = []
    present: dict[str, set[str]] = {}
    rejected = 0
    for company in companies:
        for _ in range(2 if rng.random() < 0.08 else 1):  # some companies appear twice
            stage, population = rng.choice(stages)
            rows.append(make_row(g, company, g.website(company), stage))
            present.setdefault(company.label, set()).add(population)
        if rng.random() < 0.03:  # an extra row with an unmapped stage: rejected, changes nothing
            rows.append(make_row(g, company, g.website(company), rng.choice(unmapped)))
            rejected += 1
    for i in range(junk_rows):  # rows that yield no account at all
        kind = i % 3
        ghost = _Company(f"ghost{g.row_id}", None, f"Ghost {g.row_id}", rng.choice(COUNTRIES))
        if kind == 0:
            website = f"{rng.choice(['jane.doe', 'bob', 'cto.mike', 'info'])}{i}@{rng.choice(FREEMAIL)}"
            stage = rng.choice(stages)[0]
        elif kind == 1:
            website, stage = rng.choice(GARBAGE), rng.choice(stages)[0]
        else:  # a real-looking company whose stage maps to no population
            fresh = g.company(10_000_000 + g.row_id)
            website, stage, ghost = g.website(fresh), rng.choice(unmapped), fresh
        row = make_row(g, ghost, website, stage)
        if make_row is _hs_row and kind != 2:
            row["Company Domain Name"], row["Website URL"] = website, ""
        rows.append(row)
        rejected += 1
    rng.shuffle(rows)
    return rows, present, rejected


def generate_pair(vendor_accounts: int = 20_000, partner_accounts: int = 15_000, overlap: int = 4_000, seed: int = 7) -> tuple[list[dict], list[dict], GroundTruth]:
    if not 0 <= overlap <= min(vendor_accounts, partner_accounts):
        raise ValueError("overlap must be between 0 and the smaller side's size")
    g = _Generator(seed)
    shared = [g.company(i) for i in range(overlap)]
    vendor_only = [g.company(overlap + i) for i in range(vendor_accounts - overlap)]
    partner_only = []
    for i in range(partner_accounts - overlap):
        twin = vendor_only[i] if i < len(vendor_only) and g.rng.random() < 0.05 and vendor_only[i].unicode_label is None else None
        if twin is not None:  # same name on another public suffix: a different company
            stem, suffix = twin.label.split(".", 1)
            other = ".co.uk" if suffix != "co.uk" else ".com"
            partner_only.append(g.company(0, suffix=other, stem=stem))
        else:
            partner_only.append(g.company(overlap + vendor_accounts + i))
    v_rows, v_present, v_rejected = _side(g, shared + vendor_only, SF_STAGES, SF_UNMAPPED, _sf_row, max(1, vendor_accounts // 50))
    p_rows, p_present, p_rejected = _side(g, shared + partner_only, HS_STAGES, HS_UNMAPPED, _hs_row, max(1, partner_accounts // 50))
    matrix = {vp: {pp: 0 for pp in POPULATIONS} for vp in POPULATIONS}
    both = v_present.keys() & p_present.keys()
    for label in both:
        for vp in v_present[label]:
            for pp in p_present[label]:
                matrix[vp][pp] += 1
    truth = GroundTruth(
        vendor_accounts=len(v_present), partner_accounts=len(p_present), overlap=len(both), matrix=matrix,
        vendor_rows=len(v_rows), partner_rows=len(p_rows), vendor_rejected_rows=v_rejected, partner_rejected_rows=p_rejected,
    )
    return v_rows, p_rows, truth


def _write(rows: list[dict], headers: list[str], path: Path, fmt: str) -> None:
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=headers)
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({h: [r[h] for r in rows] for h in headers}), path)
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("export")
        ws.append(headers)
        for r in rows:
            ws.append([r[h] for h in headers])
        wb.save(path)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def write_pair(out_dir: Path, vendor_accounts: int = 20_000, partner_accounts: int = 15_000, overlap: int = 4_000, seed: int = 7, fmt: str = "csv") -> dict[str, str]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_rows, p_rows, truth = generate_pair(vendor_accounts, partner_accounts, overlap, seed)
    paths = {
        "vendor": out_dir / f"vendor_salesforce_accounts.{fmt}",
        "partner": out_dir / f"partner_hubspot_companies.{fmt}",
        "ground_truth": out_dir / "ground_truth.json",
    }
    _write(v_rows, SALESFORCE_HEADERS, paths["vendor"], fmt)
    _write(p_rows, HUBSPOT_HEADERS, paths["partner"], fmt)
    paths["ground_truth"].write_text(json.dumps(truth.to_json(), indent=2) + "\n")
    return {k: str(v) for k, v in paths.items()}
