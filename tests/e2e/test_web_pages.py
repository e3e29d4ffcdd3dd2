"""The web pages in Debian's chromium (Playwright): login, and every number a page shows equals the API's.

Screenshots go to each test's tmp_path (1366-px-wide laptop viewport).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest

from cleanroom.demo.localrun import LocalCoordinator

from browser import browser_page
from web_data import build, web_server  # noqa: F401  (session fixture)

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


def api_get(server: dict, key: str, path: str, **params) -> dict:
    response = httpx.get(
        server["url"] + path, params=params, headers={"Authorization": f"Bearer {server['keys'][key]}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def login(page, url: str, key: str) -> None:
    page.goto(url + "/login")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def count_text(count: int | None, suppressed: bool, k: int) -> str:
    return f"< {k}" if suppressed else f"{count:,}"


def money(value: str) -> str:
    return f"{Decimal(value):,.2f}"


def test_login_sets_a_session_cookie_and_logout_ends_it(web_server, tmp_path: Path):  # noqa: F811
    url, keys = web_server["url"], web_server["keys"]
    with browser_page(tmp_path) as page:
        page.goto(url + "/partners")
        assert page.url.endswith("/login?next=%2Fpartners")
        page.fill("#api_key", "crk_000000000000_" + "A" * 43)
        page.click("button[type=submit]")
        assert "not valid" in page.inner_text("[data-testid=login-error]")
        page.screenshot(path=str(tmp_path / "login-refused.png"))
        page.fill("#api_key", keys["analyst"])
        page.click("button[type=submit]")
        page.wait_for_url("**/partners")
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies["cleanroom_session"]
        # HttpOnly and SameSite=Strict always; Secure only over HTTPS (this server is plain HTTP on loopback).
        assert session["httpOnly"] is True and session["sameSite"] == "Strict" and session["secure"] is False
        assert keys["analyst"] not in session["value"] and len(cookies) == 1
        assert page.inner_text("[data-testid=who]") == "vendor · analyst"
        response = page.goto(url + "/audit")  # an analyst may not read the audit trail
        assert response.status == 403 and page.get_attribute("[data-testid=error]", "data-code") == "PERMISSION_DENIED"
        page.goto(url + "/partners")
        page.click("text=Log out")
        page.wait_for_url("**/login")
        page.goto(url + "/attribution")
        assert "/login?next=" in page.url
        # A stolen cookie is no use after logout: the server forgot the session.
        stale = httpx.get(url + "/partners", cookies={"cleanroom_session": session["value"]}, follow_redirects=False)
        assert stale.status_code == 303 and stale.headers["location"].startswith("/login")


def test_partner_overview_shows_the_apis_overlap_and_ranking(web_server, tmp_path: Path):  # noqa: F811
    ids, url = web_server["ids"], web_server["url"]
    with browser_page(tmp_path) as page:
        login(page, url, web_server["keys"]["analyst"])
        assert page.url.endswith("/partners")
        page.screenshot(path=str(tmp_path / "partners.png"), full_page=True)
        for name in ("a", "b", "c"):
            body = api_get(web_server, "analyst", f"/v1/agreements/{ids[name]}/overlap")["release"]
            card = page.locator(f"[data-testid=agreement][data-agreement={ids[name]}]")
            for cell in body["cells"]:
                shown = card.locator(
                    f"[data-testid=cell][data-mine={cell['mine']}][data-theirs={cell['theirs']}] text"
                ).text_content()
                assert shown == count_text(cell["count"], cell["suppressed"], body["min_count"]), (name, cell)
            assert card.locator("[data-testid=total-overlap]").inner_text() == f"{body['totals']['overlap']:,}"
            assert card.locator("[data-testid=total-mine]").inner_text() == f"{body['totals']['mine']:,}"
        assert page.locator(f"[data-testid=not-released][data-agreement={ids['d']}]").count() == 1
        ranking = api_get(web_server, "analyst", "/v1/partners/ranking")["partners"]
        rows = page.locator("[data-testid=rank-row]")
        assert [rows.nth(i).get_attribute("data-partner") for i in range(rows.count())] == [r["partner"] for r in ranking]
        assert [rows.nth(i).locator("[data-testid=rank-count]").inner_text() for i in range(rows.count())] == [
            count_text(r["count"], r["suppressed"], r["min_count"]) for r in ranking
        ]
        page.select_option("select[name=mine]", "opportunity")
        page.select_option("select[name=theirs]", "customer")
        page.get_by_role("button", name="Rank", exact=True).click()
        page.wait_for_url("**mine=opportunity**")
        by_cell = api_get(web_server, "analyst", "/v1/partners/ranking", mine="opportunity", theirs="customer")["partners"]
        assert (
            page.locator("[data-testid=rank-row] [data-testid=rank-count]").all_inner_texts()
            == [count_text(r["count"], r["suppressed"], r["min_count"]) for r in by_cell]
            == ["< 5"]
        )
        page.screenshot(path=str(tmp_path / "partners-ranked-by-cell.png"), full_page=True)


def test_attribution_page_shows_the_apis_credit_and_metrics(web_server, tmp_path: Path):  # noqa: F811
    url = web_server["url"]
    job = api_get(web_server, "analyst", "/v1/attribution")["items"][0]
    partners, metrics = job["body"]["partners"], job["body"]["metrics"]
    with browser_page(tmp_path) as page:
        login(page, url, web_server["keys"]["analyst"])
        page.goto(url + "/attribution")
        page.screenshot(path=str(tmp_path / "attribution.png"), full_page=True)
        bars = page.locator("[data-testid=credit-chart] [data-testid=bar]")
        assert {
            bars.nth(i).get_attribute("data-partner"): bars.nth(i).get_attribute("data-won") for i in range(bars.count())
        } == {p["partner"]: p["credited_won"] for p in partners}
        for p in partners:
            row = page.locator(f"[data-testid=partner-row][data-partner={p['partner']}]")
            assert row.locator("[data-testid=p-won]").inner_text() == money(p["credited_won"])
            assert row.locator("[data-testid=p-open]").inner_text() == money(p["credited_open"])
            assert row.locator("[data-testid=p-influenced]").inner_text() == f"{p['deals_influenced']:,}"
            label = page.locator(f"[data-testid=bar][data-partner={p['partner']}] [data-testid=bar-label]").text_content()
            assert label.startswith(money(p["credited_won"]) + " won")
        assert page.inner_text("[data-testid=m-share-amount]") == f"{metrics['influenced_share_amount']:.1%}"
        assert page.inner_text("[data-testid=m-win-with]") == f"{metrics['win_rate']['with_partners']:.1%}"
        assert page.inner_text("[data-testid=deal-count]") == str(job["deal_count"])
        page.click("text=Log out")
        login(page, url, web_server["keys"]["partner_a_analyst"])
        page.goto(url + "/attribution")
        own = api_get(web_server, "partner_a_analyst", "/v1/attribution")["items"][0]["body"]
        assert money(own["credited_won"]) in page.inner_text("[data-testid=own-credited_won]")
        assert page.inner_text("[data-testid=own-deals_influenced]").endswith(str(own["deals_influenced"]))
        assert "partner-b" not in page.content()
        page.screenshot(path=str(tmp_path / "attribution-partner.png"), full_page=True)


def test_audit_trail_and_disclosure_report_pages(web_server, tmp_path: Path):  # noqa: F811
    ids, url = web_server["ids"], web_server["url"]
    with browser_page(tmp_path) as page:
        login(page, url, web_server["keys"]["auditor"])
        assert page.url.endswith("/audit")  # an auditor lands on the audit trail
        status = api_get(web_server, "auditor", "/v1/audit/verification")
        badge = page.locator("[data-testid=verification]")
        assert badge.get_attribute("data-status") == "verified" == status["status"]
        assert page.inner_text("[data-testid=verified-entries]") == f"{status['entries']:,}"
        first = api_get(web_server, "auditor", "/v1/audit/entries", limit=50)["items"]
        rows = page.locator("[data-testid=audit-row]")
        assert [int(rows.nth(i).get_attribute("data-seq")) for i in range(rows.count())] == [e["seq"] for e in first]
        page.screenshot(path=str(tmp_path / "audit.png"))
        page.select_option("select[name=agreement_id]", ids["a"])
        page.select_option("select[name=action]", "release.overlap")
        page.get_by_role("button", name="Filter", exact=True).click()
        page.wait_for_url("**action=release.overlap**")
        filtered = api_get(web_server, "auditor", "/v1/audit/entries", agreement_id=ids["a"], action="release.overlap")["items"]
        assert [int(s) for s in page.locator("[data-testid=audit-row]").evaluate_all("rows => rows.map(r => r.dataset.seq)")] == [
            e["seq"] for e in filtered
        ]
        page.screenshot(path=str(tmp_path / "audit-filtered.png"), full_page=True)
        page.goto(url + f"/reports?agreement_id={ids['a']}")
        report = api_get(web_server, "auditor", f"/v1/agreements/{ids['a']}/disclosure-report")
        for viewer in report["viewers"]:
            section = page.locator(f"[data-testid=viewer][data-viewer={viewer['viewer']}]")
            release = viewer["releases"][0]["released"]
            for cell in release["cells"]:
                shown = section.locator(
                    f"[data-testid=released-cell][data-mine={cell['mine']}][data-theirs={cell['theirs']}] td.num"
                ).inner_text()
                assert shown == ("< k (suppressed)" if cell["suppressed"] else f"{cell['count']:,}")
            assert section.locator("[data-testid=released-overlap]").inner_text() == f"{release['totals']['overlap']:,}"
        page.screenshot(path=str(tmp_path / "disclosure-report.png"), full_page=True)
        page.click("text=Log out")
        login(page, url, web_server["keys"]["partner_a_auditor"])
        page.goto(url + f"/reports?agreement_id={ids['attr_partner-a']}")
        assert page.locator("[data-testid=withheld]").count() == 1 and "partner-b" not in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "disclosure-report-partner.png"), full_page=True)


def test_a_tampered_store_shows_a_broken_badge(tmp_path: Path):
    built = build(tmp_path)
    con = duckdb.connect(str(Path(built["data_dir"]) / "coordinator.duckdb"))
    con.execute(
        "UPDATE audit_log SET details_json = replace(details_json, '\"overlap\": 60', '\"overlap\": 61') WHERE action = 'release.overlap'"
    )
    edited = [
        r[0] for r in con.execute("SELECT seq FROM audit_log WHERE details_json LIKE '%\"overlap\": 61%' ORDER BY seq").fetchall()
    ]
    con.close()
    assert edited
    coordinator = LocalCoordinator(Path(built["data_dir"]), http=True).start()
    server = {**built, "url": coordinator.http_url}
    try:
        status = api_get(server, "auditor", "/v1/audit/verification")
        assert status["status"] == "broken" and {p["seq"] for p in status["problems"]} == set(edited)
        with browser_page(tmp_path) as page:
            login(page, server["url"], built["keys"]["auditor"])
            assert page.get_attribute("[data-testid=verification]", "data-status") == "broken"
            assert f"entry {edited[0]}" in page.inner_text("[data-testid=verification]")
            page.screenshot(path=str(tmp_path / "audit-broken.png"))
    finally:
        coordinator.stop()


def test_the_audit_page_checks_pasted_heads_and_shows_a_rollback(tmp_path: Path):
    built = build(tmp_path)
    con = duckdb.connect(str(Path(built["data_dir"]) / "coordinator.duckdb"))
    # The heads the coordinator handed out with its releases: what the parties hold.
    handed = [
        json.loads(r[0]) for r in con.execute("SELECT DISTINCT audit_head FROM releases WHERE audit_head IS NOT NULL").fetchall()
    ]
    newest = max(h["count"] for h in handed)
    con.execute("DELETE FROM audit_log WHERE seq > ?", [newest - 3])  # someone with the file drops the last entries
    con.close()
    heads = {"format": "cleanroom.audit-heads/v1", "heads": sorted(handed, key=lambda h: h["count"])}
    coordinator = LocalCoordinator(Path(built["data_dir"]), http=True).start()
    server = {**built, "url": coordinator.http_url}
    try:
        assert api_get(server, "auditor", "/v1/audit/verification")["status"] == "verified"  # the chain alone looks fine
        posted = httpx.post(
            server["url"] + "/v1/audit/verification",
            json=heads,
            headers={"Authorization": f"Bearer {built['keys']['auditor']}"},
            timeout=30,
        ).json()
        assert posted["status"] == "rolled back"
        with browser_page(tmp_path) as page:
            login(page, server["url"], built["keys"]["auditor"])
            assert page.get_attribute("[data-testid=verification]", "data-status") == "verified"
            page.click("text=Check against the heads a party holds")
            page.fill("textarea[name=heads]", json.dumps(heads))
            page.get_by_role("button", name="Check heads").click()
            page.wait_for_url("**/audit/heads")
            assert page.get_attribute("[data-testid=verification]", "data-status") == "rolled back"
            assert "ROLLED BACK" in page.inner_text("[data-testid=verification]")
            shown = page.locator("[data-testid=head-check]").evaluate_all("rows => rows.map(r => r.dataset.status)")
            assert shown == [h["status"] for h in posted["heads"]] and "shorter" in shown
            page.screenshot(path=str(tmp_path / "audit-rolled-back.png"), full_page=True)
            page.goto(server["url"] + "/audit")
            page.click("text=Check against the heads a party holds")
            page.fill("textarea[name=heads]", '{"format": "something else"}')
            page.get_by_role("button", name="Check heads").click()
            page.wait_for_url("**/audit/heads")
            assert "Not a heads export" in page.inner_text("[data-testid=heads-error]")
            assert page.locator("[data-testid=head-check]").count() == 0
    finally:
        coordinator.stop()
