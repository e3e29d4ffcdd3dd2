"""The test tiers stay what `make test-fast` promises: tests/unit starts no coordinator, server or browser.

A unit test module that needs a running coordinator, the shared web data set or a browser belongs in
tests/e2e (where tests/e2e/conftest.py marks it ``e2e``; ``--dist loadfile`` keeps each module on one worker).
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# What only an end-to-end test uses: a coordinator process, background clients, the REST data set, a browser.
E2E_ONLY = re.compile(r"\b(LocalCoordinator|client_background|web_server|browser_page|sync_playwright)\b")
# The process fixtures of tests/e2e/conftest.py. Their names are common words (tests/inprocess.py has a
# coordinator() helper), so they count only where a test or a fixture requests them as a parameter.
E2E_FIXTURES = frozenset({"coordinator", "parties"})
REQUESTS = re.compile(r"^(?:@pytest\.fixture\b.*\n(?:@.*\n)*(?:async )?def \w+|(?:async )?def test_\w*)\(([^)]*)\)", re.M)


def _requested(source: str) -> set[str]:
    params = (p.split(":")[0].split("=")[0].strip() for group in REQUESTS.findall(source) for p in group.split(","))
    return {p for p in params if p in E2E_FIXTURES}


def e2e_only_uses(source: str) -> list[str]:
    return sorted(set(E2E_ONLY.findall(source)) | _requested(source))


def test_the_checker_finds_e2e_machinery():
    assert e2e_only_uses("from cleanroom.demo.localrun import LocalCoordinator\ndef test(web_server): ...") == [
        "LocalCoordinator",
        "web_server",
    ]
    assert e2e_only_uses("from inprocess import coordinator\n") == []
    assert e2e_only_uses("def test_map(parties, dataset): ...") == ["parties"]
    assert e2e_only_uses("@pytest.fixture(scope='module')\ndef world(\n    coordinator: LC,\n):") == ["coordinator"]
    assert e2e_only_uses("def _helper(coordinator):\n    core, _ = coordinator(tmp)\n") == []


def test_unit_modules_start_no_coordinator_server_or_browser():
    modules = sorted(m for m in (TESTS / "unit").glob("test_*.py") if m.name != Path(__file__).name)
    assert len(modules) > 20
    offenders = {m.name: found for m in modules if (found := e2e_only_uses(m.read_text(encoding="utf-8")))}
    assert offenders == {}, f"move these to tests/e2e: {offenders}"


def test_test_modules_live_in_a_tier():
    assert not list(TESTS.glob("test_*.py")), "test modules live in tests/unit or tests/e2e"
    assert len(list((TESTS / "e2e").glob("test_*.py"))) >= 10
