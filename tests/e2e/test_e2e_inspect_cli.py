"""``cleanroom-client inspect`` as a process: one JSON document, people's output, bad input as one line (exit 2).

The in-process tests of the same command are tests/unit/test_inspect_cli.py (its sample rows are used here).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_inspect_cli import SALESFORCE, SF_ROWS, write_csv

CLIENT = [sys.executable, "-m", "cleanroom_client.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLIENT, *args], capture_output=True, text=True, timeout=120)


def test_json_document_from_a_process(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sf.csv", SALESFORCE, SF_ROWS)
    proc = run("inspect", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # exactly one JSON document: json.loads refuses trailing text
    assert doc["accounts"] == [
        {"row": 1, "rows": [1, 3], "keys": ["domain:acme.com"], "populations": ["customer", "prospect"]},
        {"row": 4, "rows": [4], "keys": ["domain:beta.de"], "populations": ["opportunity"]},
    ]
    assert [(r["row"], r["reason"].split(" (")[0].split(";")[0]) for r in doc["rejected"]] == [
        (2, "free-mail only"),
        (5, "empty key: no website, domain or e-mail"),
        (6, "unmapped stage 'Competitor' in column 'Type'"),
        (7, "unparseable URL or domain"),
    ]
    assert doc["totals"] == {
        "rows": 7,
        "accounts": 2,
        "rejected": 4,
        "duplicates_merged": 1,
        "by_population": {"customer": 1, "opportunity": 1, "prospect": 1},
    }


def test_people_output_from_a_process(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sf.csv", SALESFORCE, SF_ROWS)
    proc = run("inspect", str(path))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "keys from Website; name from Account Name; population from Type; country from Billing Country" in text
    assert "Accounts (2)" in text and "Rejected rows (4)" in text and "Totals" in text
    assert "domain:acme.com" in text and "domain:beta.de" in text
    assert "1, 3" in text  # the merged account's rows
    assert "free-mail only" in text
    assert "jane@gmail.com" in text  # the cell at fault, shown locally
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("missing.csv", None, "no such file"),
        ("accounts.json", "{}", "unsupported format '.json'"),
        ("empty.csv", "", "the file is empty"),
        ("nokey.csv", "Account Name,Type\nAcme,Customer\n", "columns found: Account Name, Type"),
    ],
    ids=["missing", "format", "empty", "no-key-column"],
)
def test_bad_input_one_line_exit_2_no_traceback(tmp_path: Path, name: str, content: str | None, needle: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    proc = run("inspect", str(path), "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr
