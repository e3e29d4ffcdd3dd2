"""Pipeline value end to end: a coordinator, a vendor and a partner as processes over mTLS gRPC.

The vendor's deals come from the generator (cleanroom.demo.synth_deals), with its bookkeeping of which
company each deal belongs to; the accounts files are written here from that bookkeeping. The expected
count and sum of the vendor's open pipeline on the overlap are computed from the generator's truth alone
(company indexes, canonical domains, amounts), never through the client's normaliser, join or crypto.
Then: the same under DP (the noise stays within its tail), the coordinator's store holds no amount in
clear, and malformed ciphertexts sent over gRPC are refused with the reason and leave nothing stored.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from cleanroom.crypto.upload_signing import points_digest
from cleanroom.demo.localrun import LocalCoordinator, client_background, client_json, finish
from cleanroom.demo.synth_deals import write_attribution_set
from cleanroom.errors import InvalidArgument
from cleanroom.homomorphic import generate
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import hash_to_point
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.signing import UploadSigner
from cleanroom_client.remote import Chunk, Remote, UploadKind, UploadRequest

from store_scan import stored_bytes

pytestmark = pytest.mark.e2e

SEED, DEALS, CAP = 11, 700, 40_000


@dataclass
class World:
    coord: LocalCoordinator
    profiles: dict[str, Path]
    vendor_file: Path
    partner_file: Path
    deals_file: Path
    per_company: dict[int, int]  # company -> its open amount in whole units, before the cap
    matched: list[int]  # companies both sides have


def _write_accounts(path: Path, domains: list[str]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Account Name", "Website"])
        for i, d in enumerate(domains):
            w.writerow([f"Company {i}", d])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("pipeline_value")
    truth = write_attribution_set(base / "data", deals=DEALS, partners=("partner",), touches=10, seed=SEED)
    domain_of: dict[int, str] = {}
    open_total: dict[int, Decimal] = defaultdict(Decimal)
    for d in truth.deals:
        domain_of[d.company] = d.domain
        if d.matchable and d.outcome == "open":  # an unmatchable row's key is unusable: it joins no account
            open_total[d.company] += d.amount
    companies = sorted(domain_of)
    matched = [c for c in companies if c % 3 == 0]
    vendor_file, partner_file = base / "vendor_accounts.csv", base / "partner_accounts.csv"
    _write_accounts(vendor_file, [domain_of[c] for c in companies])
    _write_accounts(partner_file, [domain_of[c] for c in matched] + [f"pv-partner-only-{i}.com" for i in range(60)])
    coord = LocalCoordinator(base / "coord").init().start()
    try:
        profiles = {n: coord.add_party(n, base / n) for n in ("vendor", "partner")}
        per_company = {c: math.floor(open_total[c]) for c in companies}
        yield World(coord, profiles, vendor_file, partner_file, Path(truth.paths["deals"]), per_company, matched)
    finally:
        coord.stop()


def _agree(w: World, *value_flags: str) -> str:
    proposed = client_json(
        w.profiles["vendor"],
        "agreement", "propose", "--with", "partner",
        "--populations", "opportunity", "--their-populations", "customer",
        "--pipeline-value", "opportunity:customer", "--value-cap", str(CAP), *value_flags,
    )  # fmt: skip
    client_json(w.profiles["partner"], "agreement", "approve", proposed["agreement_id"])
    return str(proposed["agreement_id"])


def _map_both(w: World, agreement_id: str) -> dict:
    vendor = client_background(
        w.profiles["vendor"], "map", agreement_id, str(w.vendor_file), "--default-population", "opportunity",
        "--deals", str(w.deals_file), "--wait", "300", "--json",
    )  # fmt: skip
    partner = client_background(
        w.profiles["partner"], "map", agreement_id, str(w.partner_file), "--default-population", "customer",
        "--wait", "300", "--json",
    )  # fmt: skip
    finish(partner)
    return json.loads(finish(vendor))


def _expected(w: World) -> tuple[int, int, int]:
    """(count, capped sum over the overlap, accounts clamped in the vendor's whole file): from the truth only."""
    total = sum(min(CAP, w.per_company[c]) for c in w.matched)
    clamped = sum(1 for v in w.per_company.values() if v > CAP)
    return len(w.matched), total, clamped


def test_exact_sum_and_count_without_dp(world: World):
    agreement_id = _agree(world, "--no-dp-for-value")
    view = _map_both(world, agreement_id)
    count, total, clamped = _expected(world)
    assert clamped > 0 and total > 0  # the data exercises the cap
    assert view["read"]["amounts"]["clamped_to_cap"] == clamped
    [cell] = view["pipeline_value"]["cells"]
    assert (cell["mine"], cell["theirs"], cell["count"], cell["sum"]) == ("opportunity", "customer", count, total)
    assert view["pipeline_value"]["dp"] is None
    # Asked again (a new command): the stored release, decrypted to the same sum.
    again = client_json(world.profiles["vendor"], "value", agreement_id)
    assert again["cells"][0]["sum"] == total
    # The partner is granted no pipeline value.
    refused = client_background(world.profiles["partner"], "value", agreement_id)
    _, err = refused.communicate(timeout=120)
    assert refused.returncode != 0 and "grant partner no pipeline value" in err
    world.coord.stop()
    try:
        haystack = stored_bytes(world.coord.data_dir)
    finally:
        world.coord.start()
    # No amount in clear: not the released sum, nor any account's amount of six digits or more, as a number
    # of its own (inside a hex digest or signature six digits in a row turn up by chance).
    amounts = {total, *(v for v in world.per_company.values() if v >= 100_000)}
    number = rb"(?<![0-9a-fA-F.])%d(?![0-9a-fA-F])"
    assert re.search(number % count, haystack)  # the scan does find numbers kept in clear (the released count)
    found = [a for a in amounts if re.search(number % a, haystack)]
    assert found == [], f"amounts in clear in the coordinator's store: {found[:5]}"


def test_dp_sum_is_noisy_within_its_tail(world: World):
    agreement_id = _agree(world, "--dp-epsilon", "1.0")
    view = _map_both(world, agreement_id)
    count, total, _ = _expected(world)
    value = view["pipeline_value"]
    scale = value["dp"]["scale"]
    assert scale >= CAP  # sensitivity: one partner account moves the one cell by up to the cap
    [cell] = value["cells"]
    # Discrete Laplace: P(|noise| > 30 scales) < e^-30; the count carries its own noise (scale 2/eps).
    assert abs(cell["sum"] - total) <= 30 * scale
    assert abs(cell["count"] - count) <= 60


def test_malformed_ciphertexts_are_refused_and_nothing_is_stored(world: World):

    agreement_id = _agree(world, "--no-dp-for-value")
    profile = Profile.load(world.profiles["vendor"])
    points = b"".join(hash_to_point(f"k{i}".encode(), b"ctx") for i in range(60))
    accounts = b"".join(i.to_bytes(4, "little") for i in range(60))
    pops = b"\x01\x00" * 60
    good = generate().public
    with Remote(profile) as remote:
        agreement = remote.get(agreement_id)
        bad_values = {
            "wrong length": (0).to_bytes(4, "little") + b"\x04" * 129,
            "not on curve": (0).to_bytes(4, "little") + good.to_bytes() + good.to_bytes()[:-1] + bytes([good.to_bytes()[-1] ^ 1]),
        }
        for why, values in bad_values.items():
            digest = chunk_digest(points, accounts, pops, b"", b"", values)
            request = UploadRequest(
                agreement_id=agreement_id, terms_hash=agreement.terms_hash, kind=UploadKind.OWN, total_points=60,
                total_chunks=1, upload_digest=upload_digest([digest]), total_accounts=60, value_public=good.to_bytes(),
                points_digest=points_digest([points]),
            )  # fmt: skip
            request = UploadSigner.of(profile).sign(request)
            session = remote.begin_upload(request)
            chunk = Chunk(session.upload_id, 0, points, digest, accounts, pops, value_ciphertexts=values)
            with pytest.raises(InvalidArgument) as caught:
                remote.upload_chunks([chunk])
            expected = "130-byte ciphertexts, got 133 bytes" if why == "wrong length" else "account 0: not a point on P-256"
            assert expected in str(caught.value), (why, str(caught.value))
            assert remote.begin_upload(request).received_chunks == ()


def test_map_all_carries_amounts_too(world: World):
    for listed in client_json(world.profiles["vendor"], "agreement", "list")["agreements"]:
        if listed["state"] != "revoked":  # the earlier tests' agreements: map --all would run them again
            client_json(world.profiles["vendor"], "agreement", "revoke", listed["agreement_id"], "--reason", "next test")
    agreement_id = _agree(world, "--no-dp-for-value")
    vendor = client_background(
        world.profiles["vendor"], "map", "--all", str(world.vendor_file), "--default-population", "opportunity",
        "--deals", str(world.deals_file), "--wait", "300", "--json",
    )  # fmt: skip
    partner = client_background(
        world.profiles["partner"], "map", agreement_id, str(world.partner_file), "--default-population", "customer",
        "--wait", "300", "--json",
    )  # fmt: skip
    finish(partner)
    [outcome] = [o for o in json.loads(finish(vendor))["agreements"] if o["agreement_id"] == agreement_id]
    count, total, _ = _expected(world)
    [cell] = outcome["overlap"]["pipeline_value"]["cells"]
    assert (cell["count"], cell["sum"]) == (count, total)
