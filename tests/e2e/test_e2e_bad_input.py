"""Bad input and attacks against a real coordinator process: each gets a precise
gRPC status with a message, and none changes state."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from cleanroom.demo.localrun import LocalCoordinator, client, client_background, finish
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.psi.group import LOW_ORDER_U
from cleanroom.terms import build_terms, canonical_json
from cleanroom_client.profile import Profile
from cleanroom_client.remote import Chunk, CoordinatorUnavailable, Remote, UploadKind, UploadRequest

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel

MAX_POINTS = 5000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad")
    coord = LocalCoordinator(base / "coord", max_points=MAX_POINTS).init().start()
    profiles = {n: coord.add_party(n, base / n) for n in ("vendor", "partner", "mallory")}
    remotes = {n: Remote(Profile.load(p)) for n, p in profiles.items()}
    yield coord, profiles, remotes
    for r in remotes.values():
        r.close()
    coord.stop()


def _code(exc_info) -> str:
    return type(exc_info.value).__name__


def _agreement(remotes, approve: bool = True, min_set_size: int = 50):
    terms = build_terms("vendor", "partner", ["customer"], min_set_size=min_set_size)
    agreement = remotes["vendor"].propose("partner", canonical_json(terms))
    if approve:
        agreement = remotes["partner"].approve(agreement.agreement_id, agreement.terms_hash)
    return agreement


def _points(n: int, secret: bytes) -> bytes:
    return blind(secret, hash_to_points([f"acct{i}.example" for i in range(n)], b"ctx"), workers=1)


def _begin(remote, agreement, points: bytes, n_accounts: int, chunks: list[tuple[bytes, bytes, bytes]]):
    digests = [chunk_digest(*c) for c in chunks]
    return remote.begin_upload(
        UploadRequest(
            agreement_id=agreement.agreement_id,
            terms_hash=agreement.terms_hash,
            kind=UploadKind.OWN,
            total_points=len(points) // 32,
            total_chunks=len(chunks),
            total_accounts=n_accounts,
            upload_digest=upload_digest(digests),
        )
    )


def _labels(n: int) -> tuple[bytes, bytes]:
    return struct.pack(f"<{n}I", *range(n)), struct.pack(f"<{n}H", *([1] * n))


def _chunk(session, seq, pts, acc, pops, digest=None):
    return Chunk(
        upload_id=session.upload_id,
        seq=seq,
        points=pts,
        accounts=acc,
        populations=pops,
        digest=digest or chunk_digest(pts, acc, pops),
    )


def _status(remote, agreement):
    return remote.status(agreement.agreement_id)


def test_malformed_chunks_are_rejected_and_store_nothing(world):
    _, _, remotes = world
    vendor = remotes["vendor"]
    agreement = _agreement(remotes)
    pts = _points(100, new_secret())
    acc, pops = _labels(100)
    halves = [(pts[:1600], acc[:200], pops[:100]), (pts[1600:], acc[200:], pops[100:])]
    session = _begin(vendor, agreement, pts, 100, halves)

    cases = {
        "wrong length": _chunk(session, 0, pts[:1599], acc[:200], pops[:100]),
        "low order": _chunk(session, 0, LOW_ORDER_U[2].to_bytes(32, "little") + pts[32:1600], acc[:200], pops[:100]),
        "out of order": _chunk(session, 1, *halves[1]),
        "bad digest": _chunk(session, 0, *halves[0], digest=hashlib.sha256(b"x").hexdigest()),
        "label out of range": _chunk(session, 0, pts[:1600], struct.pack("<50I", *range(100, 150)), pops[:100]),
        "population bit outside terms": _chunk(session, 0, pts[:1600], acc[:200], struct.pack("<50H", *([2] * 50))),
    }
    expected = {
        "wrong length": "multiple of 32",
        "low order": "small order",
        "out of order": "out of order: expected chunk 0",
        "bad digest": "does not match its digest",
        "label out of range": "account label",
        "population bit outside terms": "population masks",
    }
    for name, chunk in cases.items():
        with pytest.raises(Exception) as exc:
            vendor.upload_chunks([chunk])
        assert _code(exc) == "InvalidArgument", name
        assert expected[name] in str(exc.value), (name, str(exc.value))
        again = _begin(vendor, agreement, pts, 100, halves)
        assert list(again.received_chunks) == [], f"{name} stored a chunk"

    # The good chunks still go through, twice (idempotent), and commit.
    vendor.upload_chunks([_chunk(session, 0, *halves[0])])
    progress = vendor.upload_chunks([_chunk(session, 0, *halves[0]), _chunk(session, 1, *halves[1])])
    assert list(progress.received_chunks) == [0, 1]
    receipt = vendor.commit(session.upload_id)
    assert receipt.total_points == 100 and receipt.party == "vendor"


def test_outsider_cannot_read_or_write(world):
    _, _, remotes = world
    agreement = _agreement(remotes)
    mallory = remotes["mallory"]
    for call in (
        lambda: mallory.get(agreement.agreement_id),
        lambda: mallory.status(agreement.agreement_id),
        lambda: mallory.overlap(agreement.agreement_id),
        lambda: mallory.approve(agreement.agreement_id, agreement.terms_hash),
        lambda: mallory.revoke(agreement.agreement_id, "x"),
        lambda: _begin(mallory, agreement, b"\x09" * 32 * 60, 60, [(b"\x09" * 32 * 60, b"", b"")]),
    ):
        with pytest.raises(Exception) as exc:
            call()
        assert _code(exc) == "PermissionDenied"
        assert "mallory" in str(exc.value)
    assert [a.agreement_id for a in mallory.list()] == []
    assert remotes["vendor"].get(agreement.agreement_id).state == "active"  # unchanged


def test_unapproved_changed_oversized_and_undersized(world):
    _, _, remotes = world
    vendor, partner = remotes["vendor"], remotes["partner"]
    pts = _points(60, new_secret())
    acc, pops = _labels(60)
    one = [(pts, acc, pops)]

    pending = _agreement(remotes, approve=False)
    with pytest.raises(Exception) as exc:
        _begin(vendor, pending, pts, 60, one)
    assert _code(exc) == "FailedPrecondition" and "not approved yet (waiting for partner)" in str(exc.value)

    with pytest.raises(Exception) as exc:
        partner.approve(pending.agreement_id, "0" * 64)
    assert _code(exc) == "FailedPrecondition" and "changed" in str(exc.value)
    assert partner.get(pending.agreement_id).state == "proposed"

    active = _agreement(remotes)
    with pytest.raises(Exception) as exc:
        vendor.begin_upload(
            UploadRequest(
                agreement_id=active.agreement_id,
                terms_hash="f" * 64,
                kind=UploadKind.OWN,
                total_points=60,
                total_chunks=1,
                total_accounts=60,
                upload_digest="0" * 64,
            )
        )
    assert _code(exc) == "FailedPrecondition" and "changed since you approved" in str(exc.value)

    with pytest.raises(Exception) as exc:
        vendor.begin_upload(
            UploadRequest(
                agreement_id=active.agreement_id,
                terms_hash=active.terms_hash,
                kind=UploadKind.OWN,
                total_points=MAX_POINTS + 1,
                total_chunks=1,
                total_accounts=60,
                upload_digest="0" * 64,
            )
        )
    assert _code(exc) == "ResourceExhausted" and f"{MAX_POINTS:,}" in str(exc.value)

    small = pts[: 32 * 10]
    with pytest.raises(Exception) as exc:
        _begin(vendor, active, small, 10, [(small, acc[:40], pops[:10])])
    assert _code(exc) == "FailedPrecondition" and "below the agreement's minimum set size of 50" in str(exc.value)
    assert _status(vendor, active).state == "none"  # none of these started a run


def test_profile_from_another_coordinator_is_refused(world, tmp_path: Path):
    coord, _, _ = world
    stranger = LocalCoordinator(tmp_path / "other").init()
    stranger.port = coord.port  # its profile points at OUR coordinator
    profile = stranger.add_party("vendor", tmp_path / "impostor")
    with Remote(Profile.load(profile)) as impostor, pytest.raises(CoordinatorUnavailable) as exc:
        impostor.list()
    assert "was this profile issued by it" in str(exc.value)
    # The CLI says it in one line, exit status 2, no traceback.
    proc = client(profile, "agreement", "list", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_cli_reports_one_line_for_refusals(world, tmp_path: Path):
    _, profiles, remotes = world
    pending = _agreement(remotes, approve=False)
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text("Website,Type\n" + "".join(f"https://acct{i}.com,Customer\n" for i in range(80)))
    proc = client(profiles["vendor"], "map", pending.agreement_id, str(csv_file), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: agreement {pending.agreement_id} is not approved yet (waiting for partner)"
    proc = client(profiles["mallory"], "overlap", pending.agreement_id, check=False)
    assert proc.returncode == 2 and "not a party to agreement" in proc.stderr


def test_bad_file_while_the_partners_points_wait_changes_nothing(world, tmp_path: Path):
    """map re-blinds the partner's waiting points while it reads its file: a bad file must still leave no trace."""
    _, profiles, remotes = world
    agreement = _agreement(remotes)
    rows = "".join(f"https://acct{i}.com,Customer\n" for i in range(120))
    (tmp_path / "partner.csv").write_text("Website,Type\n" + rows)
    (tmp_path / "bad.csv").write_text("Company,Type\n" + "".join(f"Acct {i},Customer\n" for i in range(120)))  # no website column
    (tmp_path / "good.csv").write_text("Website,Type\n" + rows)
    client(profiles["partner"], "map", agreement.agreement_id, str(tmp_path / "partner.csv"))

    def state() -> tuple:
        status = remotes["vendor"].status(agreement.agreement_id)
        local = {p.name: p.read_bytes() for p in sorted(profiles["vendor"].iterdir()) if p.is_file()}
        return status.run_id, tuple(status.waiting_for), status.reblind_needed, local

    before = state()
    assert before[1] == ("your upload", "your re-blinding of partner's points") and before[2]
    refused = client(profiles["vendor"], "map", agreement.agreement_id, str(tmp_path / "bad.csv"), check=False)
    assert (
        refused.returncode == 2
        and refused.stderr.startswith(f"error: {tmp_path / 'bad.csv'}")
        and len(refused.stderr.splitlines()) == 1
    )
    assert state() == before  # no upload, no re-blinded points, no new key, no receipt
    syncing = client_background(profiles["partner"], "sync", agreement.agreement_id, "--wait", "60")
    done = json.loads(
        client(profiles["vendor"], "map", agreement.agreement_id, str(tmp_path / "good.csv"), "--wait", "60", "--json").stdout
    )
    finish(syncing)
    assert done["totals"]["overlap"] == 120


# --- CRM files as people export them (issue 13, finding 8), through the real `cleanroom-client` process -------

SF_FOOTER = [
    "",
    '"Accounts by Type"',
    '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."',
    '"Confidential Information - Do Not Distribute"',
    '"Generated By:  Dana Scully  12/4/2026 9:15 AM"',
    '"Acme Corporation"',
]


def _salesforce_report_cp1252(path: Path, domains: list[str], short_after: int) -> tuple[list[int], int]:
    """A Salesforce report saved by Excel on Windows: Windows-1252 names (euro sign, curly quotes), a short
    line after ``short_after`` accounts, the footer. Returns (the lines to be skipped, the short line)."""
    lines = ['"Account Name","Website","Type","Billing Country"']
    for i, domain in enumerate(domains):
        lines.append(f'"\u201cCaf\u00e9 {i}\u201d \u20ac GmbH","https://www.{domain}/","Customer","Germany"')
        if i + 1 == short_after:
            lines.append('"Half a line","half.example"')
    short_line = short_after + 2  # the header is line 1
    footer_from = len(lines) + 1
    lines += SF_FOOTER
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return [short_line, *range(footer_from, footer_from + len(SF_FOOTER))], short_line


def test_salesforce_report_in_windows_1252_maps_exactly_its_accounts(world, tmp_path: Path):
    """A Salesforce report with its footer and a short line, in Windows-1252: the old reader took it for a
    one-column file ("no website/domain/e-mail column found"); now map reads exactly its accounts."""
    _, profiles, remotes = world
    agreement = _agreement(remotes)
    shared = [f"crmshared{i}.com" for i in range(60)]
    vendor_domains = shared + [f"crmvendor{i}.com" for i in range(25)]
    skipped, short_line = _salesforce_report_cp1252(tmp_path / "report.csv", vendor_domains, short_after=40)
    (tmp_path / "partner.csv").write_text(
        "Website,Type\n" + "".join(f"{d},Customer\n" for d in shared + [f"crmpartner{i}.com" for i in range(30)])
    )
    client(profiles["partner"], "map", agreement.agreement_id, str(tmp_path / "partner.csv"))
    syncing = client_background(profiles["partner"], "sync", agreement.agreement_id, "--wait", "60")
    proc = client(profiles["vendor"], "map", agreement.agreement_id, str(tmp_path / "report.csv"), "--wait", "60", "--json")
    finish(syncing)
    doc = json.loads(proc.stdout)
    assert doc["totals"]["mine"] == len(vendor_domains) and doc["totals"]["overlap"] == len(shared)
    read = doc["read"]
    assert read["file"] == str(tmp_path / "report.csv") and read["encoding"] == "Windows-1252"
    assert [s["line"] for s in read["skipped_lines"]] == skipped
    assert read["skipped_lines"][0] == {
        "line": short_line,
        "reason": "short line: 2 of 4 fields",
        "text": "Half a line | half.example",
    }
    assert {s["reason"] for s in read["skipped_lines"][1:]} == {"Salesforce report footer"}


def test_file_without_stage_column_refused_then_mapped_with_a_default_population(world, tmp_path: Path):
    """No stage column: map refuses in one line naming the file and the way out, and changes nothing; with
    --default-population prospect the accounts are mapped as prospects (table output: the encoding is said)."""
    _, profiles, remotes = world
    terms = build_terms("vendor", "partner", ["prospect"], min_set_size=50)
    agreement = remotes["vendor"].propose("partner", canonical_json(terms))
    agreement = remotes["partner"].approve(agreement.agreement_id, agreement.terms_hash)
    domains = [f"crmlead{i}.com" for i in range(70)]
    plain = tmp_path / "domains.csv"
    plain.write_text("Website\n" + "".join(f"{d}\n" for d in domains))
    (tmp_path / "partner.csv").write_text("Website,Type\n" + "".join(f"{d},Prospect\n" for d in domains[:55]))
    refused = client(profiles["vendor"], "map", agreement.agreement_id, str(plain), check=False)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith(f"error: {plain}: no stage/population column")
    assert "--default-population" in refused.stderr
    assert _status(remotes["vendor"], agreement).state == "none"
    client(profiles["partner"], "map", agreement.agreement_id, str(tmp_path / "partner.csv"))
    syncing = client_background(profiles["partner"], "sync", agreement.agreement_id, "--wait", "60")
    mapped = client(
        profiles["vendor"], "map", agreement.agreement_id, str(plain), "--default-population", "prospect", "--wait", "60"
    )
    finish(syncing)
    assert f"{plain}: read as UTF-8" in mapped.stdout
    assert f"{plain}: 70 rows -> 70 accounts in the agreement's populations" in mapped.stderr
    assert "overlap 55" in mapped.stdout
