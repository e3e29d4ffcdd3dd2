"""What the fuzzers (fuzz/) found, one test per finding, each failing on the code before its fix.

Each input is also in the replayed corpus (fuzz/corpus/<target>/regression-*); these tests say what the
right answer is, by hand.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import grpc
import pytest

from cleanroom.coordinator.grpc.service import AgreementService
from cleanroom.errors import InputError, InvalidArgument
from cleanroom.terms import build_terms, canonical_json, parse_terms
from cleanroom.v1 import agreements_pb2
from cleanroom_client.inputs.accounts import load_accounts
from cleanroom_client.inputs.keys.names import canonical_name, name_key
from cleanroom_client.inputs.readers import read_table
from fuzz.targets.grpc_calls import Aborted, Context

from inprocess import coordinator
from tabular import write_xlsx

# -- keys: a compatibility capital letter (fuzz/targets/keys.py, the idempotence invariant) ---------------


@pytest.mark.parametrize("spelling", ["ᴴooli", "ℍooli", "HOOLI", "Ｈｏｏｌｉ"])
def test_a_name_written_with_a_compatibility_capital_folds_to_lower_case(spelling: str):
    # U+1D34 MODIFIER LETTER CAPITAL H and U+210D DOUBLE-STRUCK CAPITAL H have no case of their own and
    # decompose to "H": folded before decomposing they stayed upper case ("Hooli"), a key no spelling in
    # plain letters could meet, and not its own canonical form.
    assert canonical_name(spelling) == "hooli"
    assert canonical_name(canonical_name(spelling)) == canonical_name(spelling)
    assert name_key(f"{spelling} Inc.", "United States") == "hooli|us"


# -- terms: JSON nested a thousand deep (fuzz/targets/terms.py; reaches the coordinator over gRPC) ---------

DEEP = [b"[" * 5000, b'{"a":' * 5000, b"[" * 1500 + b"]" * 1500]


@pytest.mark.parametrize("blob", DEEP, ids=["arrays", "objects", "closed"])
def test_terms_nested_too_deeply_are_refused_as_invalid(blob: bytes):
    with pytest.raises(InvalidArgument, match="nested too deeply"):
        parse_terms(blob)  # was RecursionError


def test_a_deeply_nested_proposal_or_amendment_is_invalid_argument_not_internal(tmp_path: Path):
    """Over the servicer, as a party sends it: INVALID_ARGUMENT with the reason (was INTERNAL), nothing stored."""
    coord, _ = coordinator(tmp_path)
    service = AgreementService(coord)
    proposed = coord.propose("vendor", "partner", canonical_json(build_terms("vendor", "partner", ["customer"])))
    before = coord.store.rows("SELECT agreement_id, version, terms_hash FROM agreements ORDER BY agreement_id")
    calls = [
        lambda: service.Propose(
            agreements_pb2.ProposeAgreementRequest(counterparty="partner", terms_json=DEEP[0]), Context("vendor")
        ),
        lambda: service.Approve(
            agreements_pb2.ApproveAgreementRequest(
                agreement_id=proposed["agreement_id"], terms_hash=proposed["terms_hash"], approver_terms_json=DEEP[1]
            ),
            Context("partner"),
        ),
    ]
    for call in calls:
        with pytest.raises(Aborted) as refused:
            call()
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "nested too deeply" in str(refused.value)
    after = coord.store.rows("SELECT agreement_id, version, terms_hash FROM agreements ORDER BY agreement_id")
    assert after == before


# -- readers: an XLSX workbook without a worksheet (fuzz/targets/readers.py) ------------------------------


def _without_sheets(path: Path) -> Path:
    """The workbook at ``path`` with its sheet list emptied (what a chart-only or damaged workbook has)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                data = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data)
            target.writestr(item, data)
    path.write_bytes(out.getvalue())
    return path


def test_a_workbook_without_a_worksheet_is_refused_naming_the_file(tmp_path: Path):
    path = _without_sheets(write_xlsx(tmp_path / "accounts.xlsx", ["Website"], [["acme.com"]]))
    for read in (read_table, load_accounts):
        with pytest.raises(InputError, match=r"accounts\.xlsx: cannot be read as XLSX: it has no worksheet"):
            read(path)  # was IndexError
