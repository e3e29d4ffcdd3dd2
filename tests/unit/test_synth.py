"""The synthetic CRM generator: determinism, exact headers, and a ground truth that
the generated rows really encode.

The ground truth is re-derived here from the rows alone with a small reference
canonicaliser (tldextract's bundled PSL snapshot, the idna package), written
independently of both the generator's bookkeeping and the client's normaliser.
"""

from __future__ import annotations

import csv
import json
import re
import socket
from collections import defaultdict
from pathlib import Path

import idna
import pytest
import tldextract

from cleanroom.demo import synth
from cleanroom.demo.synth import HUBSPOT_HEADERS, POPULATIONS, SALESFORCE_HEADERS, GroundTruth, generate_pair, write_pair

SAMPLE = Path(synth.__file__).parent / "data" / "sample_salesforce.csv"

# --- the reference canonicaliser -------------------------------------------------

FREE_OR_DISPOSABLE = {
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "icloud.com",
    "aol.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "proton.me",
    "protonmail.com",
    "mail.com",
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "yopmail.com",
    "tempmail.com",
}
SF_STAGES = {
    "customer - direct": "customer",
    "customer - channel": "customer",
    "prospect": "prospect",
    "opportunity": "opportunity",
}
HS_STAGES = {
    "customer": "customer",
    "evangelist": "customer",
    "lead": "prospect",
    "subscriber": "prospect",
    "marketingqualifiedlead": "prospect",
    "marketing qualified lead": "prospect",
    "salesqualifiedlead": "prospect",
    "sales qualified lead": "prospect",
    "opportunity": "opportunity",
}


@pytest.fixture(scope="module")
def extract() -> tldextract.TLDExtract:
    """The bundled PSL snapshot, proven offline: any socket use during the first lookup fails."""
    real = socket.socket

    def no_network(*args, **kwargs):
        raise AssertionError("tldextract tried to use the network")

    socket.socket = no_network  # type: ignore[misc]
    try:
        ex = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        assert (ex("eu.app.acme.co.uk").domain, ex("eu.app.acme.co.uk").suffix) == ("acme", "co.uk")
    finally:
        socket.socket = real  # type: ignore[misc]
    return ex


def ref_domain(ex: tldextract.TLDExtract, value: str) -> str | None:
    """Registrable domain of a website / domain / e-mail, or None when it is no company key."""
    v = value.strip().lower()
    if "@" in v and "://" not in v:
        v = v.rsplit("@", 1)[1]
    v = re.sub(r"^[a-z][a-z0-9+.-]*://", "", v)
    host = re.split(r"[/?#]", v, maxsplit=1)[0].split(":", 1)[0].strip().rstrip(".")
    if not host or " " in host:
        return None
    try:
        host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    parts = ex(host)
    if not parts.suffix or not parts.domain:  # also rejects IP addresses and bare words like "n/a"
        return None
    registrable = f"{parts.domain}.{parts.suffix}"
    return None if registrable in FREE_OR_DISPOSABLE else registrable


def derive(ex, rows: list[dict[str, str]], key_columns: tuple[str, ...], stage_column: str, stages: dict[str, str]):
    """{registrable domain: population union} and the rejected-row count, from rows alone."""
    accounts: dict[str, set[str]] = defaultdict(set)
    rejected = 0
    for row in rows:
        key = next((k for k in (ref_domain(ex, row[c]) for c in key_columns) if k), None)
        population = stages.get(row[stage_column].strip().lower())
        if key is None or population is None:
            rejected += 1
        else:
            accounts[key].add(population)
    return accounts, rejected


def derive_truth(ex, vendor_rows, partner_rows) -> tuple[GroundTruth, dict, dict]:
    v, v_rej = derive(ex, vendor_rows, ("Website",), "Type", SF_STAGES)
    p, p_rej = derive(ex, partner_rows, ("Company Domain Name", "Website URL"), "Lifecycle Stage", HS_STAGES)
    both = v.keys() & p.keys()
    matrix = {a: {b: sum(1 for k in both if a in v[k] and b in p[k]) for b in POPULATIONS} for a in POPULATIONS}
    truth = GroundTruth(len(v), len(p), len(both), matrix, v_rej, p_rej, len(vendor_rows), len(partner_rows))
    return truth, v, p


def read_csv(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- tests -----------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data():
    assert generate_pair(400, 300, 120, seed=3) == generate_pair(400, 300, 120, seed=3)
    assert generate_pair(400, 300, 120, seed=3)[0] != generate_pair(400, 300, 120, seed=4)[0]


def test_headers_exactly_as_the_crms_export_them(tmp_path: Path):
    vendor, partner, _ = generate_pair(200, 150, 50, seed=1)
    assert all(list(r) == SALESFORCE_HEADERS for r in vendor) and all(list(r) == HUBSPOT_HEADERS for r in partner)
    paths = write_pair(tmp_path, 200, 150, 50, seed=1)
    assert Path(paths["vendor"]).read_text(encoding="utf-8").splitlines()[0] == (
        "Account ID,Account Name,Website,Type,Billing Country,Account Owner,Industry,Annual Revenue,Last Activity"
    )
    assert Path(paths["partner"]).read_text(encoding="utf-8").splitlines()[0] == (
        "Record ID,Company name,Company Domain Name,Website URL,Lifecycle Stage,Country/Region,Company owner,Annual Revenue,Last Activity Date"
    )


@pytest.mark.parametrize("sizes", [(2000, 1500, 400), (300, 300, 300), (500, 200, 0), (1, 1, 1)])
def test_ground_truth_is_self_consistent(sizes):
    vendor, partner, truth = generate_pair(*sizes, seed=5)
    v, p, o = sizes
    assert (truth.vendor_accounts, truth.partner_accounts, truth.overlap) == (v, p, o)  # requested sizes are exact
    assert (truth.vendor_rows, truth.partner_rows) == (len(vendor), len(partner))
    assert truth.vendor_rows - truth.vendor_rejected_rows >= truth.vendor_accounts  # every account has a usable row
    assert truth.partner_rows - truth.partner_rejected_rows >= truth.partner_accounts
    assert truth.vendor_rejected_rows > 0 and truth.partner_rejected_rows > 0
    assert truth.overlap <= min(truth.vendor_accounts, truth.partner_accounts)
    assert set(truth.matrix) == set(POPULATIONS) and all(set(row) == set(POPULATIONS) for row in truth.matrix.values())
    cells = [n for row in truth.matrix.values() for n in row.values()]
    assert all(0 <= n <= truth.overlap for n in cells)
    assert truth.overlap <= sum(cells) <= 9 * truth.overlap  # each shared company has 1-3 populations per side


@pytest.mark.parametrize("sizes,seed", [((3000, 2500, 900), 7), ((800, 1200, 800), 11), ((600, 400, 0), 2)])
def test_rows_encode_exactly_the_claimed_ground_truth(extract, sizes, seed):
    vendor, partner, truth = generate_pair(*sizes, seed=seed)
    derived, _, _ = derive_truth(extract, vendor, partner)
    assert derived == truth


def test_written_files_and_ground_truth_json_match(extract, tmp_path: Path):
    paths = write_pair(tmp_path, 1500, 1000, 300, seed=9, formats=("csv", "parquet", "xlsx"))
    vendor, partner, truth = generate_pair(1500, 1000, 300, seed=9)
    assert json.loads(Path(paths["ground_truth"]).read_text()) == truth.to_json()
    v_csv, p_csv = read_csv(paths["vendor_csv"]), read_csv(paths["partner_csv"])
    assert (v_csv, p_csv) == (vendor, partner) and paths["vendor"] == paths["vendor_csv"]
    assert derive_truth(extract, v_csv, p_csv)[0] == truth

    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    assert pq.read_table(paths["partner_parquet"]).to_pylist() == partner
    sheet = load_workbook(paths["vendor_xlsx"], read_only=True).active
    values = [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0] == SALESFORCE_HEADERS
    assert [dict(zip(SALESFORCE_HEADERS, row, strict=True)) for row in values[1:]] == vendor  # empty cells read back as None


def test_the_data_carries_the_messiness_it_promises(extract):
    vendor, partner, truth = generate_pair(3000, 2500, 900, seed=7)
    _, v, p = derive_truth(extract, vendor, partner)
    websites = [r["Website"] for r in vendor]
    hs_values = [r["Company Domain Name"] for r in partner] + [r["Website URL"] for r in partner]
    for values in (websites, hs_values):
        for pattern in (
            r"^https?://",
            r":8080",
            r"\?x=1",
            r"^\s+www\.",
            r"\.$",
            r"^app\.|://app\.|eu\.app\.",
            r"^[A-Z.]+$",
            r"^[a-z.]+@[a-z0-9.-]+$",
            r"@(gmail|yahoo|hotmail|outlook)\.",
            r"^$",
            r"^(n/a|-|http://)$",
            r"\.co\.uk\b",
            r"\.com\.au\b",
            r"\.co\.jp\b",
        ):
            assert any(re.search(pattern, x) for x in values), pattern
    # IDN: the same company in Unicode on the vendor side and in punycode on the partner side
    idn_shared = {k for k in v.keys() & p.keys() if k.startswith("xn--")}
    assert any(not w.isascii() and ref_domain(extract, w) in idn_shared for w in websites)
    assert any("xn--" in x.lower() and ref_domain(extract, x) in idn_shared for x in hs_values)
    # look-alikes: same name on another public suffix, a different company on the other side
    v_names = {extract(k).domain: k for k in v}
    twins = [k for k in p if extract(k).domain in v_names and v_names[extract(k).domain] != k]
    assert twins and not any(k in v for k in twins)
    # duplicate rows, some with different stages: populations are unions
    assert any(len(pops) > 1 for pops in v.values()) and any(len(pops) > 1 for pops in p.values())
    # rejected rows for every reason
    types = {r["Type"] for r in vendor}
    assert {"Partner", "Competitor", "Other", ""} <= types
    stages = {r["Lifecycle Stage"] for r in partner}
    assert {"other", ""} <= {s.lower() for s in stages} and any(s != s.lower() and s != s.title() for s in stages)
    # HubSpot: an unusable "Company Domain Name" must fall back to "Website URL"
    assert any(ref_domain(extract, r["Company Domain Name"]) is None and ref_domain(extract, r["Website URL"]) for r in partner)
    # a trap: a vendor row for a partner-only company, rejected (unmapped Type or no key), must not count as overlap
    assert any(ref_domain(extract, r["Website"]) in p.keys() - v.keys() for r in vendor if r["Type"] not in SF_TYPES_MAPPED)
    assert truth.overlap == 900


SF_TYPES_MAPPED = {"Customer - Direct", "Customer - Channel", "Prospect", "Opportunity"}


def test_distinct_companies_never_share_a_registrable_domain(extract):
    pair = synth._Pair(3000, 2500, 900, seed=13)
    companies = [pair.universe.company(c) for c in range(3000 + 2500 - 900 + 200)]
    domains = [co.domain for co in companies]
    assert len(set(domains)) == len(domains)
    for co in companies:
        assert ref_domain(extract, co.domain) == co.domain  # already registrable, so subdomains collapse onto it
        assert ref_domain(extract, f"https://eu.app.{co.unicode_domain or co.domain}/x") == co.domain
    assert any(co.unicode_domain for co in companies)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        generate_pair(100, 50, 60)
    with pytest.raises(ValueError, match="non-negative"):
        generate_pair(-1, 50, 0)


def test_cli_writes_the_files_and_prints_their_paths(tmp_path: Path, capsys):
    from cleanroom_client.cli import main

    assert (
        main(
            [
                "synth",
                "--out",
                str(tmp_path),
                "--vendor-accounts",
                "120",
                "--partner-accounts",
                "90",
                "--overlap",
                "30",
                "--seed",
                "4",
                "--format",
                "parquet",
                "--json",
            ]
        )
        == 0
    )
    paths = json.loads(capsys.readouterr().out)
    assert paths["vendor"].endswith(".parquet") and all(Path(p).is_file() for p in paths.values())
    assert json.loads(Path(paths["ground_truth"]).read_text())["overlap"] == 30


def test_bundled_sample_is_small_messy_and_regenerable(extract, tmp_path: Path):
    text = SAMPLE.read_text(encoding="utf-8")
    rows = read_csv(str(SAMPLE))
    assert len(text.encode()) < 8192 and 30 <= len(rows) <= 50 and list(rows[0]) == SALESFORCE_HEADERS
    accounts, rejected = derive(extract, rows, ("Website",), "Type", SF_STAGES)
    assert rejected > 0 and len(accounts) < len(rows) - rejected  # rejected rows and merged duplicates
    assert any(not r["Website"].isascii() for r in rows)  # an IDN
    # regenerate with: write_pair(DIR, 30, 10, 5, seed=10) and copy vendor_salesforce_accounts.csv
    assert Path(write_pair(tmp_path, 30, 10, 5, seed=10)["vendor"]).read_text(encoding="utf-8") == text
