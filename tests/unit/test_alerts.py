"""Alerts: the diff of two releases (ground truth written out by hand), the messages, the signature
(checked with hmac here, not with the code under test), and the receivers kept in the profile."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import textwrap

import pytest

from cleanroom.errors import InputError
from cleanroom_client.features import alert_messages, alert_signing
from cleanroom_client.features.alert_store import AlertStore
from cleanroom_client.features.alerts import overlap_changes
from cleanroom_client.features.alerts_diff import ChangeSet, diff_counts, diff_revealed, revealed_snapshot
from cleanroom_client.protocol.receipts import ReceiptLog, verify_entries


def _release(
    run: str, cells: dict[tuple[str, str], int | None], overlap: int, mine: int = 1000, agreement: str = "agr_1"
) -> dict:
    """An overlap release as the receipts keep it; a cell given as None is suppressed (min_count 5)."""
    return {
        "agreement_id": agreement,
        "run_id": run,
        "viewer": "vendor",
        "other": "partner-b",
        "min_count": 5,
        "cells": [
            {"mine": m, "theirs": t, "count": 0 if n is None else n, "suppressed": n is None} for (m, t), n in cells.items()
        ],
        "totals": {"mine": mine, "theirs": 800, "overlap": overlap, "overlap_suppressed": False},
        "signature": "00",
    }


FIRST = {
    ("customer", "customer"): 231,
    ("customer", "opportunity"): 40,
    ("opportunity", "customer"): None,
    ("prospect", "prospect"): 12,
}


def test_only_the_changed_cells_and_totals_are_reported_and_suppressed_cells_stay_suppressed():
    second = {**FIRST, ("customer", "customer"): 236, ("opportunity", "customer"): 7, ("prospect", "prospect"): None}
    cells, totals = diff_counts(_release("run_1", FIRST, 283), _release("run_2", second, 290, mine=1003))
    assert [c.to_dict() for c in cells] == [
        {"name": "customer x customer", "before": "231", "after": "236"},
        {"name": "opportunity x customer", "before": "< 5", "after": "7"},
        {"name": "prospect x prospect", "before": "12", "after": "< 5"},
    ]
    assert [c.to_dict() for c in totals] == [
        {"name": "mine", "before": "1000", "after": "1003"},
        {"name": "overlap", "before": "283", "after": "290"},
    ]
    assert diff_counts(_release("run_1", FIRST, 283), _release("run_2", FIRST, 283)) == ([], [])
    # Two suppressed cells are "the same" even if the hidden counts differ: nothing beyond the releases leaks.
    a, b = _release("r1", {("a", "b"): None}, 0), _release("r2", {("a", "b"): None}, 0)
    b["cells"][0]["count"] = 3
    assert diff_counts(a, b) == ([], [])


def _row(name: str, domain: str, ours: list[str], theirs: list[str]) -> dict:
    return {"account": {"name": name, "domain": domain, "keys": [domain], "populations": ours}, "partner_populations": theirs}


def test_account_events_new_changed_and_gone_from_our_own_revealed_rows():
    before = revealed_snapshot(
        [_row("Globex", "globex.com", ["customer"], ["prospect"]), _row("Initech", "initech.io", ["opportunity"], ["customer"])]
    )
    after = revealed_snapshot(
        [
            _row("Acme Corp", "acme.com", ["opportunity"], ["customer"]),
            _row("Globex", "globex.com", ["customer"], ["opportunity"]),
        ]
    )
    events = diff_revealed(before, after)
    assert [(e.event, e.account) for e in events] == [
        ("newly_revealed", "Acme Corp"),
        ("populations_changed", "Globex"),
        ("no_longer_revealed", "Initech"),
    ]
    changes = ChangeSet("agr_1", "partner-b", "run_1", "run_2", accounts=events)
    assert alert_messages.lines(changes) == [
        "Acme Corp, your opportunity, is now partner-b's customer",
        "Globex, your customer, is now partner-b's opportunity (was prospect)",
        "Initech, your opportunity, is no longer shown as partner-b's customer",
    ]
    assert diff_revealed(after, after) == []


def test_previous_release_comes_from_the_receipts_first_and_repeated_releases_alert_nothing(tmp_path):
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    first = _release("run_1", FIRST, 283)
    assert overlap_changes(log.entries(), first) is None  # the agreement's first release: no alert
    log.record_release(first)
    log.record_release(_release("run_9", {("customer", "customer"): 999}, 999, agreement="agr_other"))
    log.record_release({"kind": "reveal", "agreement_id": "agr_1", "run_id": "run_1", "rows": 3, "cells": []})
    assert overlap_changes(log.entries(), first) is None  # asked again: already received
    second = _release("run_2", {**FIRST, ("customer", "opportunity"): 41}, 284)
    changes = overlap_changes(log.entries(), second)
    assert changes is not None and changes.previous_run_id == "run_1" and changes.partner == "partner-b"
    assert alert_messages.lines(changes) == ["customer x opportunity: 40 -> 41", "total overlap: 283 -> 284"]


def test_slack_and_json_bodies_carry_the_same_changes():
    changes = ChangeSet(
        "agr_1",
        "partner-b",
        "run_1",
        "run_2",
        *diff_counts(_release("r1", FIRST, 283), _release("r2", {**FIRST, ("customer", "opportunity"): 45}, 288)),
    )
    slack = json.loads(alert_messages.body(changes, "msg_1", "slack"))
    assert set(slack) == {"text"} and "• customer x opportunity: 40 -> 45" in slack["text"].splitlines()
    data = json.loads(alert_messages.body(changes, "msg_1", "json"))
    assert data["cells"] == [{"name": "customer x opportunity", "before": "40", "after": "45"}]
    assert data["delivery_id"] == "msg_1" and data["run_id"] == "run_2" and data["previous_run_id"] == "run_1"


def test_signature_verifies_with_plain_hmac_and_fails_on_any_change():
    secret = alert_signing.new_secret()
    body = b'{"cells": []}'
    headers = alert_signing.headers(secret, "msg_abc", 1_765_000_000, body)
    # What a receiver does, written out from the Standard Webhooks spec rather than with our module.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_abc.1765000000." + body, hashlib.sha256).digest()).decode()
    version, sig = headers["webhook-signature"].split(",", 1)
    assert version == "v1" and hmac.compare_digest(sig, expected)
    assert headers["webhook-id"] == "msg_abc" and headers["webhook-timestamp"] == "1765000000"
    assert len(key) == 32
    for other in (
        alert_signing.signature(secret, "msg_abc", 1_765_000_000, body + b" "),
        alert_signing.signature(secret, "msg_abc", 1_765_000_001, body),
        alert_signing.signature(secret, "msg_abd", 1_765_000_000, body),
        alert_signing.signature(alert_signing.new_secret(), "msg_abc", 1_765_000_000, body),
    ):
        assert other.split(",", 1)[1] != expected
    with pytest.raises(InputError, match="whsec_"):
        alert_signing.secret_key("not-a-secret")


def test_receivers_are_kept_0600_and_bad_input_changes_nothing(tmp_path):
    store = AlertStore.of(tmp_path)
    added = store.add("https://hooks.example.com/x", "slack")
    assert stat.S_IMODE((tmp_path / "alerts.json").stat().st_mode) == 0o600
    assert AlertStore.of(tmp_path).receivers == [added] and added["secret"].startswith("whsec_")
    before = (tmp_path / "alerts.json").read_bytes()
    for url in ("ftp://x.example.com/", "hooks.example.com/x", "http:///nohost", "javascript:alert(1)"):
        with pytest.raises(InputError, match="http:// or https://"):
            AlertStore.of(tmp_path).add(url, "json")
    with pytest.raises(InputError, match="alert format 'xml'"):
        AlertStore.of(tmp_path).add("https://ok.example.com/", "xml")
    with pytest.raises(InputError, match=f"no alert receiver 'alr_nope'.*{added['id']}"):
        AlertStore.of(tmp_path).remove("alr_nope")
    assert (tmp_path / "alerts.json").read_bytes() == before
    AlertStore.of(tmp_path).remove(added["id"])
    assert AlertStore.of(tmp_path).receivers == []


def test_alert_notes_in_the_receipts_do_not_break_verification(tmp_path):
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    log.record_alert({"delivery_id": "msg_1", "receiver_id": "alr_1", "host": "127.0.0.1", "status": "pending"})
    assert verify_entries(log.entries(), b"unused: no signed entries") == []


def test_the_readme_verification_snippet_accepts_our_deliveries_and_refuses_altered_or_old_ones():
    import re
    import time
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Alerts") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict = {}
    exec(textwrap.dedent(code.group(1)), namespace)
    verify = namespace["verify"]
    secret, body, now = alert_signing.new_secret(), b'{"text": "customer x customer: 231 -> 236"}', int(time.time())
    headers = alert_signing.headers(secret, "msg_1", now, body)
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body.replace(b"236", b"237"))
    assert not verify(alert_signing.new_secret(), headers, body)
    old = alert_signing.headers(secret, "msg_1", now - 3600, body)
    assert not verify(secret, old, body)


def test_a_broken_alerts_file_or_no_time_left_never_raises_into_the_command(tmp_path):
    import httpx

    from cleanroom_client.features import alerts
    from cleanroom_client.features.alert_delivery import deliver
    from cleanroom_client.profile import Profile

    profile = Profile(tmp_path, "vendor", "127.0.0.1:1")
    (tmp_path / "alerts.json").write_text("{not json", encoding="utf-8")
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    changes = ChangeSet("agr_1", "partner-b", "run_1", "run_2", *diff_counts(_release("r1", FIRST, 283), _release("r2", {}, 0)))
    assert alerts.configured(profile)  # reported, not silently skipped
    sent = alerts.send(profile, log, changes)
    assert len(sent) == 1 and sent[0]["status"] == "error" and "alerts.json is not valid JSON" in sent[0]["error"]
    alerts.note_revealed(profile, changes, "agr_1", "run_2", [])  # no exception either
    # Out of time before the first attempt: pending, nothing sent (no receiver is contacted at port 9).
    receiver = {"id": "alr_1", "url": "http://127.0.0.1:9/", "secret": alert_signing.new_secret()}
    with httpx.Client() as client:
        outcome = deliver(client, receiver, "msg_1", b"{}", deadline=0.0)
    assert (outcome.status, outcome.attempts) == ("pending", 0)
    # A URL broken by hand in alerts.json fails in httpx before any connection: pending, not an exception.
    import time

    broken = {**receiver, "url": "http://[::1"}
    with httpx.Client() as client:
        outcome = deliver(client, broken, "msg_1", b"{}", deadline=time.monotonic() + 5, sleep=lambda _: None)
    assert (outcome.status, outcome.attempts) == ("pending", 3) and "InvalidURL" in outcome.error
