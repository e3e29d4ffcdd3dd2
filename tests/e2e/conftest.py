"""End-to-end tests: real coordinator and client processes over mTLS gRPC and HTTP, and a browser.

Every test under tests/e2e/ is marked ``e2e``. The suite runs with ``pytest -n 2 --dist loadfile``: a
module's tests share its module-scoped world (a running coordinator, its parties and files under the
module's own temporary directory), so they stay on one worker, while different modules run in parallel.
(``--dist loadgroup`` with an ``xdist_group`` per module did this until pytest 9.2: xdist 3.8 still renames
node ids to carry the group, which pytest 9.2 ignores, and every module was split over both workers, each
building the module's world; pytest-dev/pytest-xdist#1386.) Nothing else is shared between modules: every
coordinator listens on a port the kernel picks (port 0, read back from the coordinator's port file in its
own data dir) and every data dir is under pytest's per-worker tmp_path. The session-scoped ``web_server``
(tests/web_data.py) is built once on each worker that runs a module using it.

The function-scoped process fixtures ``coordinator`` and ``parties`` are defined here, where their only
users are (tests/unit/test_test_layout.py keeps unit tests from requesting them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.demo.localrun import LocalCoordinator

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


LOG_TAIL_BYTES = 8000


def _coordinator_logs(funcargs: dict) -> list[Path]:
    """The coordinator logs a test can reach: under its tmp_path, and of any coordinator its fixtures hold
    (module-scoped worlds live under their own temporary directories)."""
    logs: set[Path] = set()
    pending = list(funcargs.values())
    while pending:
        value = pending.pop()
        if isinstance(value, LocalCoordinator):
            logs.add(value.data_dir / "coordinator.log")
        elif isinstance(value, tuple | list):
            pending.extend(value)
    tmp = funcargs.get("tmp_path")
    if isinstance(tmp, Path):
        logs.update(tmp.rglob("coordinator.log"))
    return sorted(log for log in logs if log.is_file())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing e2e test's report carries the tail of every coordinator log it can reach: a client only says
    "internal error at the coordinator"; the cause is in the coordinator's log, and CI keeps only the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for log in _coordinator_logs(getattr(item, "funcargs", {})):
        with open(log, "rb") as fh:
            fh.seek(max(0, log.stat().st_size - LOG_TAIL_BYTES))
            report.sections.append((f"tail of {log}", fh.read().decode("utf-8", "replace")))


@pytest.fixture
def coordinator(tmp_path: Path):
    """A fresh coordinator process (mTLS on a free loopback port), stopped after the test."""
    coord = LocalCoordinator(tmp_path / "coordinator").init().start()
    yield coord
    coord.stop()


@pytest.fixture
def parties(coordinator: LocalCoordinator, tmp_path: Path) -> dict[str, Path]:
    return {name: coordinator.add_party(name, tmp_path / name) for name in ("vendor", "partner")}
