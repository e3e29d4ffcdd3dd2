"""The REST API through a real coordinator process (`serve --http`), with httpx: data, roles, errors, pagination."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.auditlog.heads import sign_head
from cleanroom.auditlog.verify import verify_file
from cleanroom.coordinator.datadir import DataDir
from cleanroom.crypto.signing import Signer, verify_json

from web_data import web_server  # noqa: F401  (session fixture)

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


@pytest.fixture(scope="module")
def api(web_server):  # noqa: F811
    with httpx.Client(base_url=web_server["url"], timeout=10) as client:

        def call(key: str | None, path: str, method: str = "GET", headers: dict | None = None, **kwargs) -> httpx.Response:
            auth = {"Authorization": f"Bearer {web_server['keys'][key]}"} if key else {}
            return client.request(method, path, headers={**auth, **(headers or {})}, **kwargs)

        call.server = web_server
        yield call


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]["message"]


def metric(api, name: str, **labels) -> float:
    text = api(None, "/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" ([0-9.e+]+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


def test_health_metrics_and_openapi_need_no_key(api):
    assert ok(api(None, "/healthz"))["status"] == "ok"
    text = api(None, "/metrics").text
    for name in (
        "cleanroom_runs",
        "cleanroom_releases_total",
        "cleanroom_denied_requests_total",
        "cleanroom_http_request_duration_seconds_bucket",
    ):
        assert name in text
    assert "vendor" not in text and "agr_" not in text  # no party names or agreement ids in labels
    spec = ok(api(None, "/v1/openapi.json"))
    assert {
        "/v1/agreements",
        "/v1/agreements/{agreement_id}/overlap",
        "/v1/partners/ranking",
        "/v1/attribution",
        "/v1/audit/entries",
        "/v1/audit/verification",
        "/v1/agreements/{agreement_id}/disclosure-report",
    } <= set(spec["paths"])
    assert all("422" not in op["responses"] for path in spec["paths"].values() for op in path.values())
    assert {"bearer", "apiKey"} <= set(spec["components"]["securitySchemes"])
    # Nothing serves points, tokens or chunks.
    assert not [p for p in spec["paths"] if re.search(r"point|token|chunk|upload", p)]


def test_missing_bad_and_revoked_keys_are_unauthenticated(api):
    message = error(api(None, "/v1/agreements"), 401, "UNAUTHENTICATED")
    assert "Authorization: Bearer" in message
    bad = api(None, "/v1/agreements", headers={"Authorization": "Bearer crk_000000000000_" + "A" * 43})
    assert error(bad, 401, "UNAUTHENTICATED") == "this API key is not valid or was revoked"
    assert bad.headers["www-authenticate"] == "Bearer"
    via_header = api(None, "/v1/me", headers={"X-API-Key": api.server["keys"]["auditor"]})
    assert ok(via_header) == {"key_id": api.server["key_ids"]["auditor"], "party": "vendor", "role": "auditor"}


def test_agreements_are_scoped_to_the_party_and_paginate(api):
    ids = api.server["ids"]
    mine = ok(api("analyst", "/v1/agreements", params={"limit": 500}))["items"]
    vendor_ids = {ids[k] for k in ("a", "b", "c", "d", "attr_partner-a", "attr_partner-b")}
    assert {a["agreement_id"] for a in mine} == vendor_ids
    everything = ok(api("admin", "/v1/agreements"))["items"]
    assert {a["agreement_id"] for a in everything} == vendor_ids | {ids["x"]}
    pages, cursor = [], None
    while True:
        page = ok(api("analyst", "/v1/agreements", params={"limit": 4, **({"cursor": cursor} if cursor else {})}))
        pages.append([a["agreement_id"] for a in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [4, 2] and sorted(i for p in pages for i in p) == sorted(vendor_ids)
    error(api("analyst", "/v1/agreements", params={"cursor": "bm90LWEtY3Vyc29y"}), 400, "INVALID_ARGUMENT")
    dp = next(a for a in mine if a["agreement_id"] == ids["c"])
    assert dp["dp"] == {"epsilon": 1.0, "budget": 3.0} and dp["approved_by"] == ["vendor", "partner-c"]
    detail = ok(api("analyst", f"/v1/agreements/{ids['a']}"))
    assert detail["terms"]["parties"] == ["vendor", "partner-a"] and [r["state"] for r in detail["runs"]] == ["complete"]
    assert {r["viewer"] for r in detail["releases"]} == {"vendor"}  # an analyst sees its own releases listed
    audited = ok(api("auditor", f"/v1/agreements/{ids['a']}"))
    assert {r["viewer"] for r in audited["releases"]} == {"vendor", "partner-a"}


def test_overlap_is_the_stored_signed_release_and_never_a_new_one(api):
    ids = api.server["ids"]
    releases_before = metric(api, "cleanroom_releases_total", kind="overlap")
    body = ok(api("analyst", f"/v1/agreements/{ids['a']}/overlap"))
    release = body["release"]
    assert body["viewer"] == "vendor" and body["partner"] == "partner-a" and body["newer_run_unreleased"] is False
    cells = {(c["mine"], c["theirs"]): (c["count"], c["suppressed"]) for c in release["cells"]}
    assert cells == {
        ("customer", "customer"): (20, False),
        ("customer", "prospect"): (20, False),
        ("prospect", "customer"): (9, False),
        # 8 >= k, suppressed as the complement of the opportunity cells (3 companies): shown, the total
        # minus the shown cells would give them back (60 - 57 = 3; issue 13, finding 5)
        ("prospect", "prospect"): (None, True),
        ("opportunity", "customer"): (None, True),
        ("opportunity", "prospect"): (None, True),
    }
    assert release["totals"] == {"mine": 150, "theirs": 100, "overlap": 60, "overlap_suppressed": False}
    residual = release["totals"]["overlap"] - sum(c["count"] for c in release["cells"] if not c["suppressed"])
    assert not 0 <= residual < release["min_count"]  # what subtraction recovers is no count below k
    public = api("auditor", "/v1/audit/public-key").content
    unsigned = {k: v for k, v in release.items() if k != "signature"}
    assert verify_json(public, unsigned, bytes.fromhex(release["signature"]))
    again = ok(api("analyst", f"/v1/agreements/{ids['a']}/overlap", params={"run_id": release["run_id"]}))
    assert again["release"] == release
    # partner-d's run is complete but was never released: the API says so and releases nothing.
    message = error(api("analyst", f"/v1/agreements/{ids['d']}/overlap"), 404, "NOT_FOUND")
    assert ids["d_run"] in message and f"cleanroom-client overlap {ids['d']}" in message and "privacy budget" in message
    error(api("analyst", f"/v1/agreements/{ids['d']}/overlap"), 404, "NOT_FOUND")
    dp = ok(api("analyst", f"/v1/agreements/{ids['c']}/overlap"))["release"]
    assert dp["dp"]["epsilon_spent"] == 1.0 and dp["dp"]["budget_remaining"] == 2.0
    for _ in range(3):  # reading a DP release again and again costs nothing
        assert ok(api("analyst", f"/v1/agreements/{ids['c']}/overlap"))["release"] == dp
    assert metric(api, "cleanroom_releases_total", kind="overlap") == releases_before
    admin = ok(api("admin", f"/v1/agreements/{ids['a']}/overlap", params={"viewer": "partner-a"}))
    assert admin["release"]["viewer"] == "partner-a" and admin["release"]["totals"]["overlap"] == 60
    error(api("admin", f"/v1/agreements/{ids['a']}/overlap"), 400, "INVALID_ARGUMENT")  # an admin names the viewer
    error(api("analyst", "/v1/agreements/agr_doesnotexist/overlap"), 404, "NOT_FOUND")


def test_partner_ranking_by_total_and_by_cell(api):
    ids = api.server["ids"]
    total = ok(api("analyst", "/v1/partners/ranking"))
    ranked = [(r["partner"], r["count"]) for r in total["partners"]]
    assert [p for p, _ in ranked] == ["partner-b", "partner-c", "partner-a"] and ranked[0][1] == 120 and ranked[2][1] == 60
    assert [r["rank"] for r in total["partners"]] == [1, 2, 3]
    assert total["partners"][0]["share_of_mine"] == pytest.approx(120 / 150)
    unavailable = {u["agreement_id"]: u["reason"] for u in total["unavailable"]}
    assert ids["d_run"] in unavailable[ids["d"]] and "not released" in unavailable[ids["d"]]
    assert set(total["populations"]["mine"]) == {"customer", "prospect", "opportunity"}
    cc = ok(api("analyst", "/v1/partners/ranking", params={"mine": "customer", "theirs": "customer"}))
    counts = {r["partner"]: r["count"] for r in cc["partners"]}
    assert counts["partner-a"] == 20 and counts["partner-b"] == 120 and cc["partners"][0]["partner"] == "partner-b"
    opp = ok(api("analyst", "/v1/partners/ranking", params={"mine": "opportunity", "theirs": "customer"}))
    assert [(r["partner"], r["count"], r["suppressed"]) for r in opp["partners"]] == [("partner-a", None, True)]
    assert {u["partner"] for u in opp["unavailable"]} >= {"partner-b", "partner-c"}
    error(api("analyst", "/v1/partners/ranking", params={"mine": "customer"}), 400, "INVALID_ARGUMENT")
    partner_view = ok(api("partner_a_analyst", "/v1/partners/ranking"))
    assert [(r["partner"], r["count"]) for r in partner_view["partners"]] == [("vendor", 60)]


def test_attribution_vendor_sees_its_job_partner_only_its_own_figures(api):
    ids = api.server["ids"]
    vendor = ok(api("analyst", "/v1/attribution"))
    assert len(vendor["items"]) == 1 and vendor["next_cursor"] is None
    job = vendor["items"][0]
    assert job["job_id"] == ids["job"] and job["view"] == "vendor" and job["deal_count"] == 40
    assert sorted(job["agreement_ids"]) == sorted([ids["attr_partner-a"], ids["attr_partner-b"]])
    assert "deals" not in job["body"] and {p["partner"] for p in job["body"]["partners"]} == {"partner-a", "partner-b"}
    assert job["body"]["metrics"]["deals"] == 40
    with_deals = ok(api("analyst", "/v1/attribution", params={"include_deals": "true"}))["items"][0]
    assert len(with_deals["body"]["deals"]) == 40
    one = ok(api("analyst", f"/v1/agreements/{ids['attr_partner-b']}/attribution"))
    assert one["job_id"] == ids["job"] and one["body"]["partners"] == job["body"]["partners"]
    partner = ok(api("partner_a_analyst", "/v1/attribution"))["items"]
    assert len(partner) == 1 and partner[0]["view"] == "partner" and partner[0]["agreement_ids"] == [ids["attr_partner-a"]]
    text = json.dumps(partner)
    assert "partner-b" not in text and "metrics" not in partner[0]["body"] and "deals" not in partner[0]["body"]
    own = partner[0]["body"]
    vendor_row = next(p for p in job["body"]["partners"] if p["partner"] == "partner-a")
    assert own["credited_won"] == vendor_row["credited_won"] and own["deals_influenced"] == vendor_row["deals_influenced"]
    message = error(api("analyst", f"/v1/agreements/{ids['a']}/attribution"), 409, "FAILED_PRECONDITION")
    assert "does not include attribution" in message


def test_audit_entries_filter_and_page_within_the_party(api):
    ids = api.server["ids"]
    seen, cursor = [], None
    while True:
        page = ok(api("auditor", "/v1/audit/entries", params={"limit": 25, **({"cursor": cursor} if cursor else {})}))
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) > 25
    every = ok(api("admin", "/v1/audit/entries", params={"limit": 1000, "order": "asc"}))["items"]
    by_seq = {e["seq"]: e for e in every}
    assert all(by_seq[s]["agreement_id"] != ids["x"] for s in seen)  # never an agreement the vendor is not in
    assert any(e["agreement_id"] == ids["x"] for e in every)
    releases = ok(api("auditor", "/v1/audit/entries", params={"action": "release.*", "agreement_id": ids["a"]}))["items"]
    assert {e["action"] for e in releases} == {"release.overlap"} and {e["details"]["viewer"] for e in releases} == {
        "vendor",
        "partner-a",
    }
    by_party = ok(api("auditor", "/v1/audit/entries", params={"party": "partner-a", "action": "release.overlap"}))["items"]
    assert [e["details"]["viewer"] for e in by_party] == ["partner-a"]
    first = every[0]["at"]
    later = ok(api("admin", "/v1/audit/entries", params={"since": every[5]["at"], "order": "asc", "limit": 3}))["items"]
    assert [e["seq"] for e in later] == [every[5]["seq"], every[6]["seq"], every[7]["seq"]]
    assert ok(api("admin", "/v1/audit/entries", params={"until": first}))["items"] == []
    error(api("auditor", "/v1/audit/entries", params={"since": "yesterday"}), 400, "INVALID_ARGUMENT")
    x_auditor = ok(api("partner_x_auditor", "/v1/audit/entries"))["items"]
    assert x_auditor and {e["agreement_id"] for e in x_auditor} == {ids["x"]}


def test_verification_and_an_export_that_verifies_offline(api, tmp_path: Path):
    ids = api.server["ids"]
    status = ok(api("auditor", "/v1/audit/verification"))
    assert status["status"] == "verified" and status["problems"] == [] and status["entries"] > 40
    exported = api("auditor", "/v1/audit/export", params={"agreement_id": ids["a"]})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
    (tmp_path / "a.jsonl").write_bytes(exported.content)
    (tmp_path / "a.pub").write_bytes(api("auditor", "/v1/audit/public-key").content)
    result = verify_file(tmp_path / "a.jsonl", tmp_path / "a.pub")
    assert result.ok and result.entries >= status["entries"]
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert {line["agreement_id"] for line in lines if line["type"] == "entry"} == {ids["a"]}  # the rest redacted
    error(api("auditor", "/v1/audit/export"), 400, "INVALID_ARGUMENT")  # an auditor names its agreement
    error(api("auditor", "/v1/audit/export", params={"agreement_id": ids["x"]}), 403, "PERMISSION_DENIED")


def test_verification_against_posted_heads(api):
    """POST /v1/audit/verification with a heads export: each head checked against the stored chain."""
    signer = DataDir(Path(api.server["data_dir"])).signer()
    entries = ok(api("auditor", "/v1/audit/entries", params={"order": "asc", "limit": 10}))["items"]
    total = ok(api("auditor", "/v1/audit/verification"))["entries"]
    held = sign_head(signer, 5, entries[4]["entry_hash"], entries[4]["at"]).to_dict()
    beyond = sign_head(signer, total + 50, "ab" * 32, "2099-01-01T00:00:00Z").to_dict()  # a head for a longer log
    foreign = sign_head(Signer(Ed25519PrivateKey.generate()), total + 50, "ab" * 32, "t").to_dict()

    def post(key: str, heads: list[dict]) -> httpx.Response:
        return api(key, "/v1/audit/verification", method="POST", json={"format": "cleanroom.audit-heads/v1", "heads": heads})

    fine = ok(post("auditor", [held]))
    assert fine["status"] == "verified" and [h["status"] for h in fine["heads"]] == ["ok"]
    rolled = ok(post("partner_a_auditor", [held, {**beyond, "source": "vendor/receipts.jsonl line 9"}]))
    assert rolled["status"] == "rolled back"
    assert [(h["status"], h["missing"]) for h in rolled["heads"]] == [("ok", 0), ("shorter", 50)]
    assert rolled["heads"][1]["source"] == "heads[1] (vendor/receipts.jsonl line 9)"
    forged = ok(post("auditor", [foreign]))  # proves nothing: reported, but no rollback claimed
    assert forged["status"] == "verified" and forged["heads"][0]["status"] == "forged"
    assert ok(api("auditor", "/v1/audit/verification"))["entries"] == total  # checking writes nothing
    error(post("analyst", [held]), 403, "PERMISSION_DENIED")
    bad = api(
        "auditor",
        "/v1/audit/verification",
        method="POST",
        json={"format": "cleanroom.audit-heads/v1", "heads": [{**held, "signature": "zz"}]},
    )
    assert "signature" in error(bad, 400, "INVALID_ARGUMENT")
    other = api("auditor", "/v1/audit/verification", method="POST", json={"format": "other", "heads": [held]})
    assert "format" in error(other, 400, "INVALID_ARGUMENT")


def test_disclosure_report_full_for_the_viewer_redacted_for_the_other_partner(api):
    ids = api.server["ids"]
    report = ok(api("auditor", f"/v1/agreements/{ids['a']}/disclosure-report"))
    released = {v["viewer"]: v["releases"] for v in report["viewers"]}
    assert released["vendor"][0]["released"]["totals"]["overlap"] == 60 and len(released["partner-a"]) == 1
    vendor_view = ok(api("auditor", f"/v1/agreements/{ids['attr_partner-a']}/disclosure-report"))
    full = next(v for v in vendor_view["viewers"] if v["viewer"] == "vendor")["releases"][0]["released"]
    assert {p["partner"] for p in full["partners"]} == {"partner-a", "partner-b"} and len(full["deals"]) == 40
    partner_view = ok(api("partner_a_auditor", f"/v1/agreements/{ids['attr_partner-a']}/disclosure-report"))
    redacted = next(v for v in partner_view["viewers"] if v["viewer"] == "vendor")["releases"][0]["released"]
    assert [p["partner"] for p in redacted["partners"]] == ["partner-a"] and redacted["deal_count"] == 40
    assert "deals" not in redacted and "metrics" not in redacted and "partner-b" not in json.dumps(partner_view)


ROLE_CASES = [
    # (key, path (with {a}, {x} for agreement ids), expected status)
    ("analyst", "/v1/agreements/{a}/overlap", 200),
    ("analyst", "/v1/partners/ranking", 200),
    ("analyst", "/v1/attribution", 200),
    ("analyst", "/v1/audit/entries", 403),
    ("analyst", "/v1/audit/verification", 403),
    ("analyst", "/v1/agreements/{a}/disclosure-report", 403),
    ("analyst", "/v1/agreements/{x}", 403),
    ("analyst", "/v1/agreements/{a}/overlap?viewer=partner-a", 403),
    ("analyst", "/v1/api-keys", 403),
    ("auditor", "/v1/audit/entries", 200),
    ("auditor", "/v1/audit/verification", 200),
    ("auditor", "/v1/agreements/{a}/disclosure-report", 200),
    ("auditor", "/v1/agreements/{a}", 200),
    ("auditor", "/v1/agreements/{a}/overlap", 403),
    ("auditor", "/v1/partners/ranking", 403),
    ("auditor", "/v1/attribution", 403),
    ("auditor", "/v1/agreements/{x}/disclosure-report", 403),
    ("auditor", "/v1/audit/entries?agreement_id={x}", 403),
    ("partner_a_analyst", "/v1/agreements/{a}/overlap", 200),
    ("partner_a_analyst", "/v1/agreements/{b}/overlap", 403),
    ("partner_x_auditor", "/v1/agreements/{a}/disclosure-report", 403),
    ("partner_x_auditor", "/v1/agreements/{x}/disclosure-report", 200),
    ("admin", "/v1/agreements/{x}/disclosure-report", 200),
    ("admin", "/v1/agreements/{a}/overlap?viewer=vendor", 200),
    ("admin", "/v1/audit/entries", 200),
    ("admin", "/v1/api-keys", 200),
]


def test_roles_both_ways_and_denials_are_audited(api):
    ids = api.server["ids"]
    for key, path, status in ROLE_CASES:
        response = api(key, path.format(a=ids["a"], b=ids["b"], x=ids["x"]))
        assert response.status_code == status, (key, path, response.text)
        if status == 403:
            assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    denied = ok(api("admin", "/v1/audit/entries", params={"action": "request.denied", "limit": 1000}))["items"]
    rest = [e for e in denied if e["details"].get("method", "").startswith("REST ")]
    assert len(rest) >= sum(1 for *_, s in ROLE_CASES if s == 403)
    cross = [e for e in rest if e["agreement_id"] == ids["x"] and e["actor"] == "vendor"]
    assert (cross and cross[0]["details"]["key_id"] == api.server["key_ids"]["analyst"]) or cross[0]["details"]["role"] in (
        "analyst",
        "auditor",
    )
    # The vendor's auditor sees the vendor's own denials that named no agreement; partner-x's auditor sees the attempt on x.
    own = ok(api("auditor", "/v1/audit/entries", params={"action": "request.denied", "limit": 1000}))["items"]
    assert any(e["agreement_id"] is None and e["actor"] == "vendor" for e in own)
    x_side = ok(api("partner_x_auditor", "/v1/audit/entries", params={"action": "request.denied"}))["items"]
    assert any(e["actor"] == "vendor" for e in x_side)
    assert metric(api, "cleanroom_http_denials_total", code="PERMISSION_DENIED") >= 1


def test_admin_manages_keys_and_revocation_is_immediate(api):
    created = api("admin", "/v1/api-keys", "POST", json={"party": "partner-b", "role": "analyst", "label": "dashboards"})
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["key"].startswith("crk_") and new["party"] == "partner-b"
    headers = {"Authorization": f"Bearer {new['key']}"}
    assert ok(api(None, "/v1/me", headers=headers))["party"] == "partner-b"
    listed = ok(api("admin", "/v1/api-keys"))["items"]
    assert new["key_id"] in {k["key_id"] for k in listed} and all("key" not in k and "key_hash" not in k for k in listed)
    error(api("analyst", "/v1/api-keys", "POST", json={"party": "vendor", "role": "admin"}), 403, "PERMISSION_DENIED")
    error(api("admin", "/v1/api-keys", "POST", json={"party": "Bad Name!", "role": "analyst"}), 400, "INVALID_ARGUMENT")
    error(api("admin", "/v1/api-keys", "POST", json={"party": "x", "role": "root"}), 400, "INVALID_ARGUMENT")
    revoked = ok(api("admin", f"/v1/api-keys/{new['key_id']}", "DELETE"))
    assert revoked["revoked_at"]
    error(api(None, "/v1/me", headers=headers), 401, "UNAUTHENTICATED")
    error(api("admin", "/v1/api-keys/0123456789ab", "DELETE"), 404, "NOT_FOUND")
    actions = [e["action"] for e in ok(api("admin", "/v1/audit/entries", params={"action": "api_key.*"}))["items"]]
    assert "api_key.created" in actions and "api_key.revoked" in actions


def test_errors_are_json_with_stable_codes(api):
    error(api("analyst", "/v1/nope"), 404, "NOT_FOUND")
    error(api("analyst", "/v1/agreements", "POST"), 405, "METHOD_NOT_ALLOWED")
    error(api("analyst", "/v1/agreements", params={"limit": 0}), 400, "INVALID_ARGUMENT")
    error(api("analyst", "/v1/agreements/has%20space"), 400, "INVALID_ARGUMENT")
    error(api("analyst", "/v1/agreements", params={"state": "gone"}), 400, "INVALID_ARGUMENT")
    error(api("auditor", "/v1/audit/entries", params={"order": "sideways"}), 400, "INVALID_ARGUMENT")
    response = api("analyst", "/v1/agreements")
    assert response.headers["cache-control"] == "no-store" and response.headers["x-content-type-options"] == "nosniff"


def test_rest_refusals_of_every_kind_are_audited_with_their_route(api):
    ids = api.server["ids"]
    error(api("analyst", "/v1/agreements/agr_refusal_probe/overlap"), 404, "NOT_FOUND")
    error(api("analyst", "/v1/agreements", params={"cursor": "cmVmdXNhbC1wcm9iZQ"}), 400, "INVALID_ARGUMENT")
    error(api("analyst", f"/v1/agreements/{ids['a']}/attribution"), 409, "FAILED_PRECONDITION")
    error(api("analyst", "/v1/agreements", params={"limit": 0}), 400, "INVALID_ARGUMENT")  # refused by validation
    error(api(None, "/v1/agreements"), 401, "UNAUTHENTICATED")  # no key: no party to audit it under
    denied = ok(api("admin", "/v1/audit/entries", params={"action": "request.denied", "limit": 1000}))["items"]
    rest = [
        (e["actor"], e["agreement_id"], e["details"]["method"], e["details"]["code"])
        for e in denied
        if e["details"].get("method", "").startswith("REST ")
    ]
    assert ("vendor", "agr_refusal_probe", "REST GET /v1/agreements/{agreement_id}/overlap", "NOT_FOUND") in rest
    assert ("vendor", ids["a"], "REST GET /v1/agreements/{agreement_id}/attribution", "FAILED_PRECONDITION") in rest
    assert sum(1 for r in rest if r[:3] == ("vendor", None, "REST GET /v1/agreements") and r[3] == "INVALID_ARGUMENT") >= 2
    probe = next(e for e in denied if e["agreement_id"] == "agr_refusal_probe")
    assert probe["details"]["key_id"] == api.server["key_ids"]["analyst"] and probe["details"]["role"] == "analyst"
    assert "does not exist" in probe["details"]["reason"]
    # The vendor's own auditor sees the refusals of the vendor's keys under the vendor's agreements.
    own = ok(api("auditor", "/v1/audit/entries", params={"action": "request.denied", "agreement_id": ids["a"], "limit": 1000}))
    assert any(e["details"]["code"] == "FAILED_PRECONDITION" for e in own["items"])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_huge_body_is_refused_unread_by_anyone(api):
    """Issue 13, finding 4: 300 MiB to POST /login (no key needed) drove the coordinator past a GiB. Now a
    declared body over the ceiling is answered 413 before it is read, and an undeclared (chunked) one
    is cut off at the ceiling; the coordinator process stays small and serves on."""
    server = api.server
    pid = server["coordinator"].process.pid
    before = _rss_mb(pid)
    with socket.create_connection(
        (server["url"].split("//")[1].split(":")[0], int(server["url"].rsplit(":", 1)[1])), timeout=10
    ) as raw:
        raw.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 314572800\r\n\r\n" + b"k" * 65536
        )  # announces 300 MiB, sends 64 KiB of it: the answer must not wait for the rest
        received = b""
        while chunk := raw.recv(4096):  # until the server closes (it answers "connection: close")
            received += chunk
        answer = received.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "request body over 65,536 bytes" in answer

    def chunks():
        for _ in range(64):  # 4 MiB in 64 KiB chunks, no Content-Length
            yield b"k" * 65536

    refused = api(None, "/login", method="POST", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 413 and refused.json()["error"]["message"].startswith("request body over")
    small = api(None, "/login", method="POST", data={"key": "crk_nope"})
    assert small.status_code in (200, 303, 401)  # an ordinary login is still read (and refused for its key)
    assert _rss_mb(pid) - before < 50
    assert ok(api("analyst", "/v1/me"))["role"] == "analyst"


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_dates_at_the_ends_of_the_calendar_are_a_400_not_a_500(api, since):
    """Issue 13, smaller findings: such a `since` overflowed when turned to UTC and answered 500."""
    answer = api("auditor", "/v1/audit/entries", params={"since": since})
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "INVALID_ARGUMENT",
        "message": f"since: {since!r} is outside the dates this API can compare (years 1 to 9999, UTC)",
    }
