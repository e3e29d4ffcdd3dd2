"""Write the committed seed corpus, fuzz/corpus/<target>/: a few valid inputs of each kind, each small.

Run once (``python -m fuzz.make_seeds``) and commit what it writes; rerun after changing a harness's
input format. Seeds are named by what they hold; each crash the fuzzers found is kept beside them as
``regression-<what>`` (``REGRESSIONS``), with its test in tests/unit/test_fuzz_findings.py.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from cleanroom.attribution.config import AttributionConfig
from cleanroom.terms import build_terms, canonical_json
from cleanroom.v1 import agreements_pb2, attribution_pb2, results_pb2, runs_pb2
from fuzz.targets import grpc_calls

CORPUS = Path(__file__).resolve().parent / "corpus"
ACCOUNTS = [
    ["Account Name", "Website", "Type", "Billing Country"],
    ["Acme, Inc.", "https://www.acme.com/", "Customer", "United States"],
    ["Globex GmbH", "info@globex.de", "Prospect", "DE"],
    ["Initech", "initech.co.uk", "Customer - Channel", "GB"],
]
DEALS = [
    ["Opportunity ID", "Account Name", "Website", "Amount", "Stage", "Created Date", "Close Date", "Type"],
    ["006A", "Acme", "acme.com", "12,500.00", "Closed Won", "1/15/2025", "3/4/2025", "New Business"],
    ["006B", "Globex", "globex.de", "€ 900", "Prospecting", "2025-02-01", "2025-06-30", "Renewal"],
]
TOUCHES = [
    ["Domain", "Role", "Date"],
    ["acme.com", "Sourcing", "2025-01-01"],
    ["globex.de", "co-sell", "12/31/2024"],
]
# Loader choice byte (readers.py): bits 0-1 the extension (csv, xlsx, parquet, tsv), bits 2-3 the loader
# (table, accounts, deals, touches), bit 4 the name key, bit 5 a table as text for the harness to write.
CSV, XLSX, PARQUET, TSV = range(4)
TEXT = 32
TABLE, LOADS_ACCOUNTS, LOADS_DEALS, LOADS_TOUCHES = (0, 4, 8, 12)


def _csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def _xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _parquet(rows: list[list[str]]) -> bytes:
    table = pa.table({name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])})
    out = io.BytesIO()
    pq.write_table(table, out, compression="NONE")
    return out.getvalue()


def readers() -> dict[str, bytes]:
    seeds = {}
    for kind, rows, loader in (
        ("accounts", ACCOUNTS, LOADS_ACCOUNTS),
        ("deals", DEALS, LOADS_DEALS),
        ("touches", TOUCHES, LOADS_TOUCHES),
    ):
        seeds[f"{kind}.csv"] = bytes([CSV | loader]) + _csv(rows)
        seeds[f"{kind}.tsv"] = bytes([TSV | loader | 16]) + _csv(rows, "\t")
        seeds[f"{kind}.parquet"] = bytes([PARQUET | loader]) + _parquet(rows)
    seeds["accounts.xlsx"] = bytes([XLSX | LOADS_ACCOUNTS]) + _xlsx(ACCOUNTS)
    # Tables as text (bit 5): the harness writes the workbook or Parquet file, a formula without a cached value included.
    deals = [*DEALS, ["006C", "Initech", "initech.co.uk", "=B2*2", "Closed Lost", "45000", "45100", "Expansion"]]
    for kind, rows, loader, suffix in (
        ("accounts", ACCOUNTS, LOADS_ACCOUNTS, XLSX),
        ("deals", deals, LOADS_DEALS, XLSX),
        ("touches", TOUCHES, LOADS_TOUCHES, PARQUET),
    ):
        seeds[f"{kind}-as-text.{('xlsx', 'parquet')[suffix == PARQUET]}"] = (
            bytes([TEXT | suffix | loader]) + "\n".join(",".join(c.replace(",", "") for c in row) for row in rows).encode()
        )
    seeds["table-cp1252.csv"] = bytes([CSV | TABLE]) + "Name,Website\r\nCafé €uro,cafe.fr\r\n".encode("cp1252")
    return seeds


def keys() -> dict[str, bytes]:
    pairs = [
        ("https://www.Acme.com/about?x=1", "ACME, Inc.|United States"),
        ("sales@globex.co.uk", "Globex GmbH|DE"),
        ("münchen.de", "Société Générale S.A.|France"),
        ("xn--mnchen-3ya.de:8080", "N/A|"),
        ("alice.github.io", "O'Reilly & Sons LLC|gb"),
        ("192.168.0.1", "  |  "),
    ]
    return {f"pair{i}": f"{site}\x00{name}".encode() for i, (site, name) in enumerate(pairs)}


def terms() -> dict[str, bytes]:
    variants = {
        "default": build_terms("vendor", "partner", ["customer", "prospect"]),
        "reveal": build_terms(
            "vendor", "partner", ["customer", "opportunity"], reveal=[("opportunity", "customer")], share=["Account Owner"]
        ),
        "dp": build_terms("vendor", "partner", ["customer"], dp_epsilon=1.0, dp_budget=4.0, key_kinds=["domain", "name"]),
        "attribution": build_terms("vendor", "partner", ["customer"], attribution=AttributionConfig()),
    }
    return {name: canonical_json(body) for name, body in variants.items()}


def grpc() -> dict[str, bytes]:
    call = grpc_calls.encode
    own = runs_pb2.UPLOAD_KIND_OWN
    return {
        "propose": call("Propose", 0, agreements_pb2.ProposeAgreementRequest(counterparty="partner", terms_json=b"@t")),
        "approve": call("Approve", 1, agreements_pb2.ApproveAgreementRequest(agreement_id="@p", terms_hash="@q")),
        "get-list-revoke": call("Get", 0, agreements_pb2.GetAgreementRequest(agreement_id="@a"))
        + call("List", 2, agreements_pb2.ListAgreementsRequest())
        + call("Revoke", 0, agreements_pb2.RevokeAgreementRequest(agreement_id="@p", reason="no")),
        "upload": call(
            "BeginUpload",
            0,
            runs_pb2.BeginUploadRequest(
                agreement_id="@a",
                terms_hash="@h",
                kind=own,
                total_points=2,
                total_chunks=1,
                total_accounts=2,
                upload_digest="0" * 64,
            ),
        )
        + call("UploadChunks", 0, runs_pb2.PointChunk(upload_id="@u", seq=0, points=b"\x09" * 64, digest="0" * 64))
        + call("CommitUpload", 0, runs_pb2.CommitUploadRequest(upload_id="@u")),
        "results": call("Status", 1, runs_pb2.RunStatusRequest(agreement_id="@a", run_id="@r"))
        + call("FetchPeerPoints", 1, runs_pb2.FetchPeerPointsRequest(run_id="@r"))
        + call("GetOverlap", 0, results_pb2.GetOverlapRequest(agreement_id="@a", run_id="@r"))
        + call("GetReveal", 1, results_pb2.GetRevealRequest(agreement_id="@a")),
        "attribution": call("Run", 0, attribution_pb2.RunAttributionRequest(run_ids=["@r"], model="linear", as_of="2025-01-01"))
        + call("Show", 1, attribution_pb2.ShowAttributionRequest(agreement_id="@a")),
    }


def rest() -> dict[str, bytes]:
    # Route indices as rest_calls sorts them: 9 /v1/agreements, 10 one agreement, 13 its overlap, 16 audit
    # entries, 22 ranking, 23 POST /login, 25 POST /v1/api-keys. Who: 1 admin, 2 analyst, 3 auditor, 5 analyst page.
    return {
        "agreements": bytes([9, 2]) + b"state=active&limit=5",
        "agreement": bytes([10, 2]) + b"@a\n",
        "overlap": bytes([13, 2]) + b"@a\nrun_id=@r",
        "audit": bytes([16, 3]) + b"since=2026-01-01T00:00:00Z&order=asc&action=release.*",
        "ranking": bytes([22, 2]) + b"mine=customer&theirs=prospect",
        "login": bytes([23, 16]) + b"\napi_key=crk_x&next=/partners",
        "new-key": bytes([25, 1 | 8]) + b'\n{"party":"vendor","role":"analyst","label":"ci"}',
        "partners-page": bytes([7, 5]) + b"mine=customer",
    }


def _without_sheets(workbook: bytes) -> bytes:
    """The workbook with its sheet list emptied (a chart-only or damaged workbook)."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(
                item, re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data) if item.filename == "xl/workbook.xml" else data
            )
    return out.getvalue()


def regressions() -> dict[str, dict[str, bytes]]:
    """The crashes found, by target (what each was: tests/unit/test_fuzz_findings.py)."""
    deep = agreements_pb2.ApproveAgreementRequest(agreement_id="@p", terms_hash="@q", approver_terms_json=b'{"a":' * 1200)
    return {
        "keys": {"regression-modifier-capital": "acme.com\x00\u1d34ooli Inc.|US".encode()},
        "terms": {"regression-deep-nesting": b"[" * 5000},
        "grpc": {
            "regression-deep-terms": grpc_calls.encode(
                "Propose", 0, agreements_pb2.ProposeAgreementRequest(counterparty="partner", terms_json=b"[" * 2000)
            )
            + grpc_calls.encode("Approve", 1, deep)
        },
        "readers": {"regression-no-worksheet": bytes([XLSX | LOADS_ACCOUNTS]) + _without_sheets(_xlsx(ACCOUNTS))},
    }


def main() -> None:
    found = regressions()
    for target, seeds in (("readers", readers()), ("keys", keys()), ("terms", terms()), ("grpc", grpc()), ("rest", rest())):
        seeds.update(found.get(target, {}))
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds.values())):,} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
