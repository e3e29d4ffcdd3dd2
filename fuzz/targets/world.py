"""A coordinator for the request harnesses: a real ``Coordinator`` over a DuckDB store in a scratch data
dir, with an active agreement between ``vendor`` and ``partner`` (one complete run, its overlap released)
and a second agreement only proposed, so that fuzzed requests can name things that exist.

Fuzzed requests name them by placeholder: a string field that reads ``@a`` becomes the active agreement's
id, ``@h`` its terms hash, ``@p``/``@q`` the proposed one's id and hash, ``@r`` the complete run, ``@u``
an open upload of the vendor's; a bytes field ``@t`` becomes valid new terms between vendor and partner.
"""

from __future__ import annotations

import atexit
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom import oprf
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.crypto.evaluation_signing import sign_request
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json

PARTIES = ("vendor", "partner", "mallory")  # mallory is party to nothing
ACCOUNTS = 60  # over the default minimum set size (50)


@dataclass
class World:
    coordinator: Coordinator
    scratch: Path
    strings: dict[str, str]
    blobs: dict[bytes, bytes]
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.coordinator.store.close()
            shutil.rmtree(self.scratch, ignore_errors=True)


def _upload(coord: Coordinator, party: str, agr: dict, kind: str, points: bytes, run_id: str = "", of: str = "") -> dict:
    n = len(points) // 32
    accounts, pops = (struct.pack(f"<{n}I", *range(n)), struct.pack(f"<{n}H", *[1] * n)) if kind == OWN else (b"", b"")
    digest = chunk_digest(points, accounts, pops, b"")
    session = coord.begin_upload(
        party, agr["agreement_id"], agr["terms_hash"], kind, run_id, n, 1, n if kind == OWN else 0, upload_digest([digest]), of
    )
    coord.put_chunk(party, session["upload_id"], 0, points, accounts, pops, digest, b"")
    return coord.commit_upload(party, session["upload_id"])


def _complete_run(coord: Coordinator, agr: dict) -> str:
    """One run in which each side brings 60 accounts, 30 of them shared; both overlaps released."""
    sets = {"vendor": [f"v{i}.example" for i in range(30)], "partner": [f"p{i}.example" for i in range(30)]}
    secrets = {party: new_secret() for party in sets}
    context = f"{agr['agreement_id']}/domain".encode()
    run_id = ""
    for party, keys in sets.items():
        keys += [f"shared{i}.example" for i in range(ACCOUNTS - len(keys))]
        run_id = _upload(coord, party, agr, OWN, blind(secrets[party], hash_to_points(keys, context), workers=1))["run_id"]
    for party in sets:
        peer = coord.status(party, agr["agreement_id"], run_id)["peer_upload_id"]
        points = next(iter(coord.peer_chunks(party, run_id)))["points"]
        _upload(coord, party, agr, REBLINDED, blind(secrets[party], points, workers=1), run_id, peer)
    for party in sets:
        coord.overlap(party, agr["agreement_id"], run_id)
    return run_id


def _program(coord: Coordinator) -> tuple[dict[bytes, bytes], dict[str, str]]:
    """A deal-registration program (vendor; partner) with one request pending: its ids and elements as placeholders."""
    k = oprf.new_secret()
    program = coord.programs.create("vendor", "fuzz", oprf.public_key(k), ["partner"])
    blinded = oprf.blind(b"domain:shared0.example", program["program_id"].encode()).element
    signed = sign_request(Ed25519PrivateKey.generate(), program["program_id"], "partner", blinded)
    request = coord.programs.request(
        "partner", program["program_id"], blinded, signed.request_id, signed.signing_public, signed.signature, signed.signed_at
    )
    evaluated = oprf.evaluate(k, blinded)
    blobs = {b"@k": oprf.public_key(k), b"@b": blinded, b"@z": evaluated, b"@d": oprf.prove(k, blinded, evaluated)}
    return blobs, {"@g": program["program_id"], "@e": request["request_id"]}


def build() -> World:
    scratch = Path(tempfile.mkdtemp(prefix="cleanroom-fuzz-world-"))
    data_dir = DataDir(scratch / "coord")
    data_dir.init(listen="127.0.0.1:0")
    coord = Coordinator(Store(data_dir.store_path, data_dir.signer()))
    terms = canonical_json(build_terms("vendor", "partner", ["customer", "prospect"]))
    proposed = coord.propose("vendor", "partner", terms)
    active = coord.propose("vendor", "partner", terms)
    active = coord.approve("partner", active["agreement_id"], active["terms_hash"])
    run_id = _complete_run(coord, active)
    open_upload = coord.begin_upload(
        "vendor", active["agreement_id"], active["terms_hash"], OWN, "", 64, 2, 64, "00" * 32, "", "overlap"
    )
    program_blobs, program_strings = _program(coord)
    strings = {
        **program_strings,
        "@a": active["agreement_id"],
        "@h": active["terms_hash"],
        "@p": proposed["agreement_id"],
        "@q": proposed["terms_hash"],
        "@r": run_id,
        "@u": open_upload["upload_id"],
    }
    world = World(coord, scratch, strings, {b"@t": terms, **program_blobs})
    atexit.register(world.close)
    return world
