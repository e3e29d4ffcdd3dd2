"""Co-sell targets end to end: consented account-level reveal with end-to-end sealed fields.

One coordinator process (logging every request it receives as raw bytes) and
two clients over mTLS. The vendor proposes reveal on two population pairs
and shares two columns; the partner amends the terms with its own shared
columns; the vendor approves the amended version; both map at once. Every
revealed row is checked against the generator's per-company ground truth and
against the other side's own file, both ways; nothing outside the grants is
revealed; neither the coordinator's store nor what it received holds a
shared value in clear; a ciphertext altered in the store is refused whole;
the local web view is driven in a real Chromium.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import subprocess

import duckdb
import pytest

from cleanroom.coordinator.store import StoredBody, release_text
from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client, client_background, client_json, finish
from cleanroom_client.inputs.accounts import load_accounts

from store_scan import ZERO_RUN, stored_bytes

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel

POPS = "customer,prospect,opportunity"
# Proposer (vendor) population first: the vendor sees its opportunities the partner has as customers, and its
# customers the partner has as prospects; the partner's grant is the same pairs turned round.
REVEAL = [("opportunity", "customer"), ("customer", "prospect")]
VENDOR_SHARES = ["Account Owner", "Last Activity"]
PARTNER_SHARES = ["Company owner", "Last Activity Date"]
MIN_COUNT = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("targets")
    coord = LocalCoordinator(work / "coord", wire_log=work / "wire.bin").init().start()
    try:
        profiles = {n: coord.add_party(n, work / n) for n in ("vendor", "partner", "mallory")}
        data = json.loads(
            subprocess.run(
                [
                    *CLIENT,
                    "synth",
                    "--out",
                    str(work / "data"),
                    "--vendor-accounts",
                    "500",
                    "--partner-accounts",
                    "420",
                    "--overlap",
                    "200",
                    "--seed",
                    "5",
                    "--shared-accounts",
                    "--json",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        proposed = client_json(
            profiles["vendor"],
            "agreement",
            "propose",
            "--with",
            "partner",
            "--populations",
            POPS,
            "--reveal",
            ",".join(f"{m}:{t}" for m, t in REVEAL),
            "--share",
            ",".join(VENDOR_SHARES),
        )
        agreement_id = proposed["agreement_id"]
        amended = client_json(profiles["partner"], "agreement", "approve", agreement_id, "--share", ",".join(PARTNER_SHARES))
        final = client_json(profiles["vendor"], "agreement", "approve", agreement_id)
        procs = {
            n: client_background(profiles[n], "map", agreement_id, data[n], "--wait", "120", "--json")
            for n in ("vendor", "partner")
        }
        views = {n: json.loads(finish(p)) for n, p in procs.items()}
        yield {
            "coord": coord,
            "work": work,
            "profiles": profiles,
            "data": data,
            "agreement_id": agreement_id,
            "proposed": proposed,
            "amended": amended,
            "final": final,
            "views": views,
        }
    finally:
        coord.stop()


def _truth(data: dict) -> dict[str, tuple[set[str], set[str]]]:
    with open(data["shared_accounts"], newline="", encoding="utf-8") as fh:
        return {
            r["domain"]: (set(r["vendor_populations"].split(";")), set(r["partner_populations"].split(";")))
            for r in csv.DictReader(fh)
        }


def _own_fields(path: str) -> dict[str, dict[str, str]]:
    """Each account's first-row cells, by canonical domain, as the client itself reads the file."""
    return {a.domain: a.fields for a in load_accounts(path).accounts if a.domain}


def _expected(truth, viewer: str, grants: list[tuple[str, str]], cells: dict[tuple[str, str], int]) -> dict[str, set[str]]:
    """Domain -> the other side's populations the viewer should see (granted pairs whose cell reaches k)."""
    open_pairs = {(m, t) for m, t in grants if cells[(m, t)] >= MIN_COUNT}
    out = {}
    for domain, (v, p) in truth.items():
        mine, theirs = (v, p) if viewer == "vendor" else (p, v)
        shown = {t for t in theirs if any((m, t) in open_pairs for m in mine)}
        if shown:
            out[domain] = shown
    return out


def test_amended_terms_are_approved_by_both_with_both_keys(world):
    proposed, amended, final = world["proposed"], world["amended"], world["final"]
    assert proposed["version"] == 1 and proposed["state"] == "proposed" and set(proposed["encryption"]) == {"vendor"}
    # The partner's share list made new terms: version 2, a new hash, approved by the partner only.
    assert amended["version"] == 2 and amended["terms_hash"] != proposed["terms_hash"]
    assert amended["state"] == "proposed" and amended["approved_by"] == ["partner"]
    assert amended["terms"]["share"] == {"vendor": VENDOR_SHARES, "partner": PARTNER_SHARES}
    # The vendor approved exactly that version: active, both parties on the same hash, both keys relayed.
    assert (
        final["state"] == "active"
        and final["terms_hash"] == amended["terms_hash"]
        and sorted(final["approved_by"]) == ["partner", "vendor"]
    )
    assert set(final["encryption"]) == {"vendor", "partner"}
    assert final["terms"]["release"]["partner"]["reveal"] == [[t, m] for m, t in REVEAL]
    for name in ("vendor", "partner"):
        pins = json.loads((world["profiles"][name] / "peers.json").read_text())["peers"]
        other = "partner" if name == "vendor" else "vendor"
        assert pins[other]["fingerprint"] == final["encryption"][other]


def test_targets_match_ground_truth_both_ways(world):
    truth = _truth(world["data"])
    grants = {"vendor": REVEAL, "partner": [(t, m) for m, t in REVEAL]}
    sharer = {"vendor": ("partner", PARTNER_SHARES), "partner": ("vendor", VENDOR_SHARES)}
    for viewer in ("vendor", "partner"):
        view = world["views"][viewer]
        cells = {(c["mine"], c["theirs"]): c["count"] or 0 for c in view["cells"]}
        expected = _expected(truth, viewer, grants[viewer], cells)
        assert len(expected) > 20  # the check below has something to check
        result = client_json(world["profiles"][viewer], "targets", world["agreement_id"])
        targets = result["targets"]
        assert view["revealed_accounts"] == len(targets) == result["total"]
        got = {t["domain"]: set(t["partner_populations"]) for t in targets}
        assert len(got) == len(targets)  # one row per company: one key per account
        assert got == expected  # every revealed row is a true match, with exactly the granted populations; none missing
        other, shares = sharer[viewer]
        their_fields = _own_fields(world["data"][other])
        mine = _own_fields(world["data"][viewer])
        for t in targets:
            assert t["partner"] == other
            assert set(t["my_populations"]) == (truth[t["domain"]][0] if viewer == "vendor" else truth[t["domain"]][1])
            # The partner's fields are exactly its own first-row cells of that company, opened here.
            assert t["partner_fields"] == {c: their_fields[t["domain"]].get(c) for c in shares}
            assert t["account"] == (mine[t["domain"]].get("Account Name") or mine[t["domain"]].get("Company name"))
            assert 0 <= t["score"] <= 100
        assert [t["score"] for t in targets] == sorted((t["score"] for t in targets), reverse=True)


def test_top_n_json_shape_and_csv(world, tmp_path):
    out = tmp_path / "targets.csv"
    result = client_json(world["profiles"]["vendor"], "targets", "--all", "--top", "10", "--csv", str(out))
    targets = result["targets"]
    assert len(targets) == 10 and result["total"] > 10
    for t in targets:
        assert {"account", "domain", "partner", "my_populations", "partner_populations", "partner_fields", "score"} <= set(t)
    with open(out, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["Domain"] for r in rows] == [t["domain"] for t in targets]
    assert rows[0]["Rank"] == "1" and "Partner Company owner" in rows[0] and rows[0]["Account ID"].startswith("0015g")
    table = client(world["profiles"]["vendor"], "targets", "--top", "3").stdout
    assert "Co-sell targets (top 3 of" in table and targets[0]["account"].split()[0] in table


def test_nobody_outside_the_grants_gets_rows(world):
    denied = client(world["profiles"]["mallory"], "targets", world["agreement_id"], check=False)
    assert denied.returncode == 2 and "not a party" in denied.stderr


def test_a_shared_column_missing_from_the_file_fails_before_anything_is_sent(world, tmp_path):
    vendor, partner = world["profiles"]["vendor"], world["profiles"]["partner"]
    proposed = client_json(
        vendor,
        "agreement",
        "propose",
        "--with",
        "partner",
        "--populations",
        POPS,
        "--reveal",
        "customer:customer",
        "--share",
        "Account Owner,Partner Tier",
    )
    client_json(partner, "agreement", "approve", proposed["agreement_id"])
    failed = client(vendor, "map", proposed["agreement_id"], world["data"]["vendor"], check=False)
    assert failed.returncode == 2
    assert f"{world['data']['vendor']}: no column 'Partner Tier'" in failed.stderr and "Nothing was sent" in failed.stderr
    status = client_json(vendor, "sync", proposed["agreement_id"])["agreements"][0]
    assert status["state"] == "none"  # no upload reached the coordinator


def test_local_view_in_a_real_browser(world, tmp_path):
    from browser import browser_page

    vendor = world["profiles"]["vendor"]
    expected = client_json(vendor, "targets")["targets"]
    proc = subprocess.Popen(
        [*CLIENT, "--profile", str(vendor), "ui", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line).group(1)
        base = url.split("/?")[0]
        with browser_page(tmp_path) as page:
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            # Without the session token, nothing is served.
            assert page.goto(base + "/targets").status == 403
            page.goto(url)  # sets the session cookie, lands on the overview
            assert page.locator("h1").inner_text() == "Agreements and overlap"
            card = page.locator(f'section[data-agreement="{world["agreement_id"]}"]')
            for cell in world["views"]["vendor"]["cells"]:
                if cell["count"] is not None:
                    assert card.locator(f'td[data-count="{cell["count"]}"]').count() >= 1
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

            page.goto(base + "/targets")
            rows = page.locator("#targets tbody tr")
            assert rows.count() == len(expected)
            assert page.locator("#shown").inner_text() == str(len(expected))
            first = rows.nth(0)
            assert first.locator("td.account b").inner_text() == expected[0]["account"]  # best first
            # Sort by account name (click), then the other way (click again).
            page.locator("th[data-sort=account]").click()
            names = [n.lower() for n in page.locator("#targets tbody tr td.account b").all_inner_texts()]
            assert names == sorted(names)
            assert page.locator("th[data-sort=account]").get_attribute("aria-sort") == "ascending"
            page.locator("th[data-sort=account]").click()
            names = [n.lower() for n in page.locator("#targets tbody tr td.account b").all_inner_texts()]
            assert names == sorted(names, reverse=True)
            # Filter: the partner's customers only, then a search for one owner's name.
            page.select_option("#f-theirs", "customer")
            want = [t for t in expected if "customer" in t["partner_populations"]]
            assert page.locator("#targets tbody tr:visible").count() == len(want)
            owner = expected[0]["partner_fields"]["Company owner"]
            page.fill("#q", owner)
            want = [
                t
                for t in want
                if owner.lower()
                in " ".join(
                    [t["account"], t["domain"], t["partner"], *map(str, filter(None, t["partner_fields"].values()))]
                ).lower()
            ]
            assert page.locator("#shown").inner_text() == str(len(want)) and len(want) > 0
            visible = page.locator("#targets tbody tr:visible td.account b").all_inner_texts()
            assert sorted(visible) == sorted(t["account"] for t in want)
            page.screenshot(path=str(tmp_path / "targets-filtered.png"), full_page=True)
            # Export what is visible, as a person would: a CSV download of exactly those rows.
            with page.expect_download() as info:
                page.click("#export")
            with open(info.value.path(), newline="", encoding="utf-8-sig") as fh:
                exported = list(csv.DictReader(fh))
            assert sorted(r["Account Name"] for r in exported) == sorted(visible)
            page.goto(f"{base}/agreements/{world['agreement_id']}")
            terms = page.locator("table.kv").inner_text()
            assert "Company owner, Last Activity Date" in terms and world["final"]["encryption"]["partner"] in terms
            assert page.locator("table.heat td.revealed").count() == len(REVEAL)  # the granted pairs are marked
            page.goto(base + "/receipts")
            assert "receipts verify" in page.locator(".banner").inner_text()
            page.screenshot(path=str(tmp_path / "receipts.png"), full_page=True)
            # Offline: nothing but the local server was ever asked for anything.
            assert requested and all(u.startswith(base) or u.startswith("blob:") for u in requested)
        import httpx

        # Another origin's name for the loopback address (DNS rebinding) or a wrong token: refused.
        assert httpx.get(base + "/", headers={"Host": "evil.example"}).status_code == 421
        assert httpx.get(base + "/?token=wrong").status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for name in ("overview.png", "targets-filtered.png", "receipts.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_coordinator_never_holds_a_shared_value_in_clear(world):
    needles: dict[bytes, str] = {}
    for name, columns in (("vendor", VENDOR_SHARES), ("partner", PARTNER_SHARES)):
        for fields in _own_fields(world["data"][name]).values():
            for column in columns:
                value = fields.get(column)
                if value and len(value) >= 6:  # shorter strings occur by chance in any binary
                    needles[value.encode("utf-8")] = f"{name} {column} {value!r}"
                    needles[json.dumps(value).encode("utf-8")] = f"{name} {column} {value!r} (JSON)"
    assert len(needles) > 100 and max(map(len, needles)) <= ZERO_RUN  # the cut store finds them (store_scan)
    world["coord"].stop()
    try:
        received = (world["work"] / "wire.bin").read_bytes()
        stored = stored_bytes(world["work"] / "coord")
        assert len(received) > 50_000 and len(stored) > 10_000
        # Sealed bytes did travel and are stored (in the release), just not readable.
        assert b"CRS1" in received and b"sealed_rows" in stored
        leaks = [what for needle, what in needles.items() if needle in received or needle in stored]
        assert leaks == []
    finally:
        world["coord"].start()


def _edit_vendor_reveal(coord: LocalCoordinator, agreement_id: str, edit) -> str:
    """Rewrite the vendor's stored reveal release with ``edit(body)`` and re-sign it with the coordinator's
    own key (the deviating coordinator holds it); returns the original body to restore."""
    from cleanroom.crypto.sealed import reveal_digest
    from cleanroom.crypto.signing import Signer

    coord.stop()
    with duckdb.connect(str(coord.data_dir / "coordinator.duckdb")) as db:
        body_json, body_zlib, release_id = db.execute(
            "SELECT body_json, body_zlib, release_id FROM releases WHERE agreement_id = ? AND viewer = 'vendor' AND kind = 'reveal'",
            [agreement_id],
        ).fetchone()
        original = release_text(StoredBody(body_json, body_zlib))
        body = json.loads(original)
        edit(body)
        rows = [{**r, "sealed": base64.b64decode(r["sealed"])} for r in body["sealed_rows"]]
        body["rows"], body["rows_digest"] = len(rows), reveal_digest(rows)
        signed = {k: v for k, v in body.items() if k not in ("signature", "sealed_rows")}
        body["signature"] = Signer.load(coord.data_dir / "signing.key").sign_json(signed).hex()
        db.execute(
            "UPDATE releases SET body_json = ?, body_zlib = NULL WHERE release_id = ?",
            [json.dumps(body, sort_keys=True), release_id],
        )
    coord.start()
    return original


def _restore_vendor_reveal(coord: LocalCoordinator, agreement_id: str, original: str) -> None:
    coord.stop()
    with duckdb.connect(str(coord.data_dir / "coordinator.duckdb")) as db:
        db.execute(
            "UPDATE releases SET body_json = ?, body_zlib = NULL WHERE agreement_id = ? AND viewer = 'vendor' AND kind = 'reveal'",
            [original, agreement_id],
        )
    coord.start()


@pytest.mark.parametrize("companies", ["new", "reused"])
def test_revealed_rows_beyond_the_counts_are_refused(world, companies):
    """A deviating coordinator (it holds the signing key) attaches the partner's sealed rows to more of the
    vendor's own accounts than the counts allow -- as a dishonest re-blinding would -- each a real account of
    the vendor, on a granted pair, its populations right: the client refuses the whole release, whether the
    extra rows claim companies of their own (more companies than the count) or hide in existing ones (one
    key kind: a company is one matched pair)."""
    coord, agreement_id, vendor = world["coord"], world["agreement_id"], world["profiles"]["vendor"]
    honest = client_json(vendor, "targets", agreement_id)["targets"]
    run_id = client_json(vendor, "overlap", agreement_id)["run_id"]
    kept = json.loads((vendor / "reveal" / agreement_id / f"{run_id}.json").read_text())["accounts"]

    def inflate(body: dict) -> None:
        revealed = {r["account"] for r in body["sealed_rows"]}
        template = body["sealed_rows"][0]
        spare = [
            int(label)
            for label, a in kept.items()
            if int(label) not in revealed and set(template["mine"]) <= set(a["populations"])
        ]
        assert len(spare) >= 20
        top = max(r["component"] for r in body["sealed_rows"])
        for n, label in enumerate(spare[:20]):
            company = top + 1 + n if companies == "new" else template["component"]
            body["sealed_rows"].append({**template, "account": label, "component": company})
        body["sealed_rows"].sort(key=lambda r: (r["account"], r["their_account"]))

    original = _edit_vendor_reveal(coord, agreement_id, inflate)
    try:
        refused = client(vendor, "targets", agreement_id, "--json", check=False)
        assert refused.returncode == 2 and refused.stdout == ""
        assert "disagree with the released counts" in refused.stderr and "Nothing from this release is shown" in refused.stderr
    finally:
        _restore_vendor_reveal(coord, agreement_id, original)
    assert client_json(vendor, "targets", agreement_id)["targets"] == honest  # the control: the honest release still reads


def test_a_ciphertext_altered_in_the_store_reveals_nothing(world):
    coord, agreement_id, vendor = world["coord"], world["agreement_id"], world["profiles"]["vendor"]
    before = client_json(vendor, "targets", agreement_id)["targets"]
    coord.stop()
    db = duckdb.connect(str(coord.data_dir / "coordinator.duckdb"))
    try:
        body_json, body_zlib, release_id = db.execute(
            "SELECT body_json, body_zlib, release_id FROM releases WHERE agreement_id = ? AND viewer = 'vendor' AND kind = 'reveal'",
            [agreement_id],
        ).fetchone()
        body = json.loads(release_text(StoredBody(body_json, body_zlib)))
        import base64

        row = body["sealed_rows"][len(body["sealed_rows"]) // 2]
        sealed = bytearray(base64.b64decode(row["sealed"]))
        sealed[-20] ^= 0x01  # one bit of one partner field's ciphertext
        row["sealed"] = base64.b64encode(bytes(sealed)).decode()
        # A thorough attacker also fixes the signed digest (it holds the signing key): authentication still fails.
        from cleanroom.crypto.sealed import reveal_digest
        from cleanroom.crypto.signing import Signer

        rows = [{**r, "sealed": base64.b64decode(r["sealed"])} for r in body["sealed_rows"]]
        body["rows_digest"] = reveal_digest(rows)
        signed = {k: v for k, v in body.items() if k not in ("signature", "sealed_rows")}
        body["signature"] = Signer.load(coord.data_dir / "signing.key").sign_json(signed).hex()
        db.execute(
            "UPDATE releases SET body_json = ?, body_zlib = NULL WHERE release_id = ?",
            [json.dumps(body, sort_keys=True), release_id],
        )
    finally:
        db.close()
    coord.start()
    failed = client(vendor, "targets", agreement_id, "--json", check=False)
    assert failed.returncode == 2 and failed.stdout == ""
    assert "fail authentication" in failed.stderr and "Nothing from this release is shown" in failed.stderr
    assert len(before) > 0
