"""Bounded fuzzing in CI: each harness of fuzz/ runs under atheris (libFuzzer) in a process of its own for
``FUZZ_SECONDS`` (default 8) from its committed seeds, with a fixed libFuzzer seed so that a run repeats
the same mutations; any crash fails the test with the reproducer's path.

Why here and not a separate make target: `make test` (CI) runs it, in parallel with the rest of the suite
(this module is one xdist group: five harnesses one after the other on one worker, about a minute), and
a crash reads like any failing test. Longer runs: ``python -m fuzz.run_all --seconds 300 --seed 0``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fuzz.run_all import run
from fuzz.targets import TARGETS

SECONDS = int(os.environ.get("FUZZ_SECONDS", "8"))


@pytest.mark.parametrize("target", list(TARGETS))
def test_the_harness_finds_no_crash_in_a_bounded_run(target: str, tmp_path: Path):
    result = run(target, SECONDS, tmp_path)
    log = result.log.read_text(errors="replace")
    assert not result.crashed, f"{result.summary()}\n{log[-4000:]}"
    assert result.executions > 0, log[-2000:]  # it ran inputs, from the seeds on (not just started)
    assert "INITED" in log and "DONE" in log  # libFuzzer loaded the corpus and stopped at the time limit


def test_the_runner_reports_a_crash_with_its_reproducer(tmp_path: Path):
    """The same runner on a harness that breaks on purpose: it fails and names the input that did it."""
    (tmp_path / "crashing_harness.py").write_text(
        "def check(data: bytes) -> None:\n    if data.startswith(b'boom'):\n        raise ValueError('a bug')\n"
    )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "fine").write_bytes(b"ok")
    (seeds / "bad").write_bytes(b"boom!")
    result = run("crashing_harness", 20, tmp_path / "work", seeds=seeds, path=str(tmp_path))
    assert result.crashed and result.returncode != 0
    assert [a.read_bytes() for a in result.artifacts] == [b"boom!"]
    assert result.artifacts[0].name.startswith("crash-")
    assert "ValueError: a bug" in result.log.read_text(errors="replace")
    assert str(result.artifacts[0]) in result.summary()
