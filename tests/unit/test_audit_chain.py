"""The audit chain: every kind of tampering with an export is found, with its position."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.auditlog.verify import verify_file
from cleanroom.coordinator.audit.export import export
from cleanroom.coordinator.cli import main as cleanroom_main
from cleanroom.errors import InputError

from inprocess import agree, coordinator, domains, run


@pytest.fixture(scope="module")  # one run's log for the module: every test reads it and writes its copies elsewhere
def exported(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("exported")
    coord, data_dir = coordinator(tmp_path)
    agreement = agree(coord, min_set_size=5, min_count=2)
    run(coord, agreement, {"vendor": domains("a", 30), "partner": domains("a", 20) + domains("b", 10)})
    coord.overlap("vendor", agreement["agreement_id"])
    coord.audit_denial("mallory", "GetOverlap", agreement["agreement_id"], "PERMISSION_DENIED", "not a party")
    coord.store.close()
    out = tmp_path / "audit.jsonl"
    summary = export(data_dir, out)
    return out, Path(summary["public_key"]), summary, agreement["agreement_id"], data_dir


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_intact_log_verifies_and_records_what_happened(exported):
    out, pub, summary, _agreement_id, _ = exported
    result = verify_file(out, pub)
    assert result.ok and result.entries == summary["entries"] and result.head_hash == summary["head_hash"]
    actions = [json.loads(line)["action"] for line in _lines(out) if json.loads(line)["type"] == "entry"]
    assert actions[:2] == ["agreement.proposed", "agreement.approved"]
    for expected in ("run.started", "upload.committed", "run.completed", "points.deleted", "release.overlap", "request.denied"):
        assert expected in actions
    release = next(json.loads(line) for line in _lines(out) if '"release.overlap"' in line)
    assert release["details"]["viewer"] == "vendor" and release["details"]["totals"]["overlap"] == 20
    upload = next(json.loads(line) for line in _lines(out) if '"upload.committed"' in line)
    assert len(upload["details"]["chunk_digests"]) == 1 and "points" in upload["details"]


@pytest.mark.parametrize(
    "mutation", ["edit", "delete", "insert", "reorder", "truncate_with_checkpoint", "drop_checkpoint", "append"]
)
def test_every_tampering_is_found_with_its_position(exported, tmp_path, mutation):
    out, pub, *_ = exported
    lines = _lines(out)
    if mutation == "edit":
        entry = json.loads(lines[5])
        entry["details"]["points"] = 1
        lines[5] = json.dumps(entry)
        where = 6
    elif mutation == "delete":
        del lines[4]
        where = 5
    elif mutation == "insert":
        lines.insert(3, lines[2])
        where = 4
    elif mutation == "reorder":
        lines[3], lines[4] = lines[4], lines[3]
        where = 4
    elif mutation == "truncate_with_checkpoint":
        lines = lines[:4] + lines[-1:]
        where = 5
    elif mutation == "drop_checkpoint":
        lines = lines[:-3]
        where = len(lines)
    else:  # an entry appended after the checkpoint
        lines.append(lines[2])
        where = len(lines)
    result = verify_file(_write(tmp_path / "t.jsonl", lines), pub)
    assert not result.ok
    assert result.problems[0]["line"] == where, result.problems


def test_wrong_key_and_foreign_signature(exported, tmp_path):
    out, _pub, *_ = exported
    other = tmp_path / "other.pub"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    result = verify_file(out, other)
    assert not result.ok and all("signature" in p["problem"] for p in result.problems)
    with pytest.raises(InputError):
        verify_file(out, tmp_path / "missing.pub")
    (tmp_path / "bad.pub").write_text("not a key")
    with pytest.raises(InputError):
        verify_file(out, tmp_path / "bad.pub")


def test_filtered_export_redacts_other_agreements_but_keeps_the_chain(tmp_path):
    coord, data_dir = coordinator(tmp_path)
    first = agree(coord, min_set_size=5)
    second = agree(coord, min_set_size=5)
    coord.store.close()
    out = tmp_path / "one.jsonl"
    export(data_dir, out, first["agreement_id"])
    records = [json.loads(line) for line in _lines(out)]
    assert all(second["agreement_id"] not in json.dumps(r) for r in records)
    assert {r["type"] for r in records} == {"header", "entry", "redacted", "checkpoint"}
    assert verify_file(out, Path(str(out) + ".pub")).ok


def test_cli_verify_exit_status_and_json(exported, tmp_path, capsys):
    out, pub, summary, *_ = exported
    assert cleanroom_main(["audit", "verify", str(out), "--public-key", str(pub), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == summary["entries"]
    lines = _lines(out)
    del lines[2]
    assert cleanroom_main(["audit", "verify", str(_write(tmp_path / "t.jsonl", lines)), "--public-key", str(pub)]) == 1


def test_disclosure_report_lists_each_release(exported, capsys):
    _, _, _, agreement_id, data_dir = exported
    assert cleanroom_main(["audit", "report", "--data-dir", str(data_dir.path), "--agreement", agreement_id, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_viewer = {v["viewer"]: v["releases"] for v in report["viewers"]}
    assert len(by_viewer["vendor"]) == 1 and by_viewer["partner"] == []
    assert by_viewer["vendor"][0]["released"]["totals"]["overlap"] == 20
    assert report["denied_requests"][0]["party"] == "mallory"
