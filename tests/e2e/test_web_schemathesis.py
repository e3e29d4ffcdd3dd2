"""Schemathesis over the generated OpenAPI document against the live server: no 5xx, and responses match the document.

Bounded: 20 examples per operation for an admin key, 5 for an analyst key
(whose calls are mostly refused, and audited). DELETE is left out so the run
cannot revoke the keys it tests with. Semantic refusals of schema-valid input
(an unknown cursor, an admin naming no viewer) are documented 400s, so the
`positive_data_acceptance` check is left out; every other check runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from web_data import web_server  # noqa: F401  (session fixture)

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel

SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"


@pytest.mark.parametrize("key,examples,phases", [("vendor_admin", 20, "coverage,fuzzing,stateful"), ("analyst", 5, "fuzzing")])
def test_schemathesis_finds_no_server_error(web_server, tmp_path: Path, key: str, examples: int, phases: str):  # noqa: F811
    argv = [
        SCHEMATHESIS,
        "run",
        f"{web_server['url']}/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {web_server['keys'][key]}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--exclude-method",
        "DELETE",
        "--max-examples",
        str(examples),
        "--phases",
        phases,
        "--seed",
        "20261123",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
    ]  # no --max-time: it makes fuzzing repeat until the time is spent; the example counts bound the run
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    (tmp_path / "schemathesis.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout and " failed" not in proc.stdout.splitlines()[-1]
