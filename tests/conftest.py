"""Shared fixtures: a real coordinator process and party profiles on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.demo.localrun import LocalCoordinator


@pytest.fixture
def coordinator(tmp_path: Path):
    """A fresh coordinator process (mTLS on a free loopback port), stopped after the test."""
    coord = LocalCoordinator(tmp_path / "coordinator").init().start()
    yield coord
    coord.stop()


@pytest.fixture
def parties(coordinator: LocalCoordinator, tmp_path: Path) -> dict[str, Path]:
    return {name: coordinator.add_party(name, tmp_path / name) for name in ("vendor", "partner")}
