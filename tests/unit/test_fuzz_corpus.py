"""The committed fuzz corpus replays clean: every seed and every crash input that became a regression
(fuzz/corpus/<target>/regression-*) goes through its harness's ``check`` in-process, deterministically.

Bounded fuzzing itself (libFuzzer in a process of its own) runs in tests/e2e/test_fuzzing.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.targets import TARGETS, check_of
from fuzz.targets.crash import Crash

CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus"
INPUTS = sorted((target, path.name) for target in TARGETS for path in (CORPUS / target).iterdir())


def test_every_target_has_seeds_and_every_folder_a_target():
    assert {path.name for path in CORPUS.iterdir()} == set(TARGETS)
    assert all(sum(1 for t, _ in INPUTS if t == target) >= 4 for target in TARGETS)
    assert all((CORPUS / t / name).stat().st_size <= 10 * 1024 for t, name in INPUTS)  # small seeds only


@pytest.mark.parametrize(("target", "name"), INPUTS)
def test_the_input_passes_its_harness(target: str, name: str):
    check_of(target)((CORPUS / target / name).read_bytes())


def test_each_harness_reports_a_broken_target(monkeypatch: pytest.MonkeyPatch):
    """A pass above means something: each harness fails when its target breaks (here on purpose)."""
    from cleanroom.coordinator.core import Coordinator
    from cleanroom.coordinator.web import routes
    from cleanroom.v1 import agreements_pb2
    from fuzz.targets import grpc_calls, keys, readers, rest_calls, terms

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(keys, "canonical_domain", lambda raw: "ACME.COM")
    with pytest.raises(Crash, match="not lower-case ASCII"):
        keys.check(b"acme.com\x00Acme|US")
    monkeypatch.setattr(terms, "canonical_json", lambda raw: b"{}")
    with pytest.raises(Crash, match="not their own canonical JSON"):
        terms.check((CORPUS / "terms" / "default").read_bytes())
    monkeypatch.setattr(readers, "read_table", boom)
    with pytest.raises(RuntimeError):
        readers.check(bytes([0]) + b"Website\nacme.com\n")
    monkeypatch.setattr(Coordinator, "get", boom)
    with pytest.raises(Crash, match="INTERNAL"):
        grpc_calls.check(grpc_calls.encode("Get", 0, agreements_pb2.GetAgreementRequest(agreement_id="@a")))
    monkeypatch.setattr(routes.agreements, "agreement_detail", boom)
    with pytest.raises(Crash, match="answered 500"):
        rest_calls.check(
            bytes([11, 2]) + b"@a\n"
        )  # GET /v1/agreements/{agreement_id} (route 11 of the sorted routes) as the vendor's analyst
