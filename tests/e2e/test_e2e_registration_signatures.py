"""Deal registration against a deviating coordinator, and the vendor's checks serving everywhere (real processes).

A coordinator that deviates can write anything into its own store: here the
test does so while it is stopped (forged evaluation requests: unsigned, signed
by a key of its own as a partner whose key the vendor pinned, for a partner
the vendor never named, and over the daily limit with a partner's real key, as
if the coordinator let a colluding partner flood). Ground truth is what was
written: which request ids are forged, and that none may come back evaluated.
The vendor's client serves from `registrations program serve`, from `sync`
and from `agent --once`; the REST read gives the vendor its conflict counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom import oprf
from cleanroom.crypto.evaluation_signing import sign_request
from cleanroom.demo.localrun import LocalCoordinator, client, client_json
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.registration_keys import RegistrationKey

pytestmark = pytest.mark.e2e

FILES = {
    "vendor": [("Acme Corp", "acme.com"), ("Globex", "globex.com")],
    "partner-a": [("Acme", "acme.com"), ("Hooli", "hooli.com"), ("Initech", "initech.com")],
    "partner-b": [("ACME Inc", "acme.com"), ("Hooli", "hooli.com")],
}
PARTNERS = ("partner-a", "partner-b")


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.coord = LocalCoordinator(root / "coord", http=True).init().start()
        self.profiles = {n: self.coord.add_party(n, root / n) for n in ("vendor", *PARTNERS)}
        self.files: dict[str, Path] = {}
        for name, rows in FILES.items():
            path = root / f"{name}.csv"
            path.write_text("Account Name,Website\n" + "".join(f"{a},{w}\n" for a, w in rows))
            self.files[name] = path

    def program(self, *extra: str) -> str:
        args = ("registrations", "program", "create", "--title", "deals", "--partners", ",".join(PARTNERS), *extra)
        return str(client_json(self.profiles["vendor"], *args)["program_id"])

    def queue(self, partner: str, program: str, account: str) -> dict[str, Any]:
        args = ("registrations", "register", program, str(self.files[partner]), "--account", account)
        queued = client_json(self.profiles[partner], *args)
        assert queued["state"] == "waiting", queued
        return dict(queued)

    def complete(self, partner: str, program: str, account: str) -> Any:
        args = ("registrations", "register", program, str(self.files[partner]), "--account", account)
        return client(self.profiles[partner], *args, "--json", check=False)

    def serve(self, program: str) -> tuple[int, dict[str, Any]]:
        done = client(self.profiles["vendor"], "registrations", "program", "serve", program, "--json", check=False)
        return done.returncode, json.loads(done.stdout)

    def forge(self, rows: list[tuple[Any, ...]], partners_json: tuple[str, str] | None = None) -> None:
        """What a deviating coordinator can do: write evaluation requests into its own store."""
        self.coord.stop()
        con = duckdb.connect(str(self.root / "coord" / "coordinator.duckdb"))
        try:
            for row in rows:
                con.execute(
                    "INSERT INTO registration_evaluations (request_id, program_id, partner, blinded, requested_at, "
                    "signing_public, signature, signed_at) VALUES (?, ?, ?, ?, '2000-01-01T00:00:00+00:00', ?, ?, ?)",
                    list(row),
                )
            if partners_json:
                con.execute("UPDATE registration_programs SET partners_json = ? WHERE program_id = ?", list(partners_json))
        finally:
            con.close()
        self.coord.start()

    def requests(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        self.coord.stop()
        con = duckdb.connect(str(self.root / "coord" / "coordinator.duckdb"), read_only=True)
        try:
            found = con.execute(
                "SELECT request_id, evaluated, proof, evaluated_at, refused FROM registration_evaluations "
                f"WHERE request_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        finally:
            con.close()
        self.coord.start()
        return {r[0]: r[1:] for r in found}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    w = World(tmp_path_factory.mktemp("registration-signatures"))
    yield w
    w.coord.stop()


def _guess(program: str, domain: str) -> bytes:
    return oprf.blind(f"domain:{domain}".encode(), f"cleanroom/registrations/{program}".encode()).element


def _receipts(profile: Path) -> dict[str, dict[str, Any]]:
    lines = (profile / "receipts.jsonl").read_text().splitlines()
    notes = [json.loads(line) for line in lines if line.strip()]
    return {n["evaluation"]["request_id"]: n["evaluation"] for n in notes if n["type"] == "registration_evaluation"}


def test_a_deviating_coordinators_own_requests_are_never_evaluated(world: World) -> None:
    program = world.program()
    # a's key pinned on first use (serve shows its fingerprint); b's trusted beforehand, read out by b
    queued = world.queue("partner-a", program, "acme.com")
    assert (
        client_json(world.profiles["partner-a"], "registrations", "key", program)["signing_fingerprint"]
        == (queued["signing_fingerprint"])
    )
    code, served = world.serve(program)
    assert code == 0 and served["total"] == 1 and served["pinned"] == {"partner-a": queued["signing_fingerprint"]}
    b_key = client_json(world.profiles["partner-b"], "registrations", "key", program)["signing_fingerprint"]
    client(world.profiles["vendor"], "registrations", "program", "trust", program, "partner-b", b_key)

    own = Ed25519PrivateKey.generate()  # the coordinator's own key
    forged: dict[str, str] = {}
    rows = []
    guess = _guess(program, "globex.com")  # (each call blinds afresh: one element per request)
    unsigned = sign_request(own, program, "partner-a", guess)
    rows.append((unsigned.request_id, program, "partner-a", guess, b"", b"", unsigned.signed_at))
    forged[unsigned.request_id] = "not signed by partner-a"
    for partner, domain in (("partner-a", "initech.com"), ("partner-b", "hooli.com"), ("mallory", "acme.com")):
        guess = _guess(program, domain)
        s = sign_request(own, program, partner, guess)
        rows.append((s.request_id, program, partner, guess, s.signing_public, s.signature, s.signed_at))
        forged[s.request_id] = "not a partner" if partner == "mallory" else f"not {partner}'s pinned key"
    # a's real signature over one element, relayed with another (a guess): the signature covers the element
    real = RegistrationKey(Profile.load(world.profiles["partner-a"]), program).sign(_guess(program, "hooli.com"))
    rows.append((real.request_id, program, "partner-a", _guess(program, "globex.com"), real.signing_public, real.signature,
                 real.signed_at))  # fmt: skip
    forged[real.request_id] = "not signed by partner-a"
    world.forge(rows, (json.dumps([*PARTNERS, "mallory"]), program))

    code, served = world.serve(program)
    assert code == 1 and served["total"] == 0 and served["pinned"] == {}
    reasons = {r["request_id"]: r["reason"] for r in served["refused"]}
    assert set(reasons) == set(forged)
    for request_id, why in forged.items():
        assert why in reasons[request_id], (why, reasons[request_id])
    stored = world.requests(list(forged))
    assert all(
        evaluated is None and proof is None and at is None and refused for evaluated, proof, at, refused in stored.values()
    )
    notes = _receipts(world.profiles["vendor"])
    assert {r: notes[r]["outcome"] for r in forged} == dict.fromkeys(forged, "refused")

    # the honest request still completes; the vendor's client never evaluated anything else
    done = world.complete("partner-a", program, "acme.com")
    assert done.returncode == 0 and json.loads(done.stdout)["state"] == "registered"
    assert sorted(r for r, n in notes.items() if n["outcome"] == "evaluated" and n["program_id"] == program) == [
        queued["request_id"]
    ]


def test_a_partners_changed_key_is_refused_until_the_vendor_trusts_it(world: World) -> None:
    program = world.program()
    world.queue("partner-a", program, "hooli.com")
    assert world.serve(program)[1]["total"] == 1
    key = world.profiles["partner-a"] / "registrations" / "keys" / f"{program}.key"
    key.unlink()  # the partner lost its key: a new one is born with its next request
    again = world.queue("partner-a", program, "initech.com")
    code, served = world.serve(program)
    assert code == 1 and served["total"] == 0
    (refusal,) = served["refused"]
    assert refusal["request_id"] == again["request_id"] and "pinned key" in refusal["reason"]
    told = world.complete("partner-a", program, "initech.com")
    assert told.returncode != 0 and "refused request" in told.stderr and "pinned key" in told.stderr
    # confirmed out of band: the vendor trusts the new fingerprint, and the next request is evaluated
    client(world.profiles["vendor"], "registrations", "program", "trust", program, "partner-a", again["signing_fingerprint"],
           "--replace")  # fmt: skip
    world.queue("partner-a", program, "initech.com")
    code, served = world.serve(program)
    assert code == 0 and served["evaluated"] == {"partner-a": 1}
    done = world.complete("partner-a", program, "initech.com")
    assert json.loads(done.stdout)["state"] == "registered"


def test_the_vendor_enforces_the_daily_limit_itself(world: World) -> None:
    program = world.program("--max-checks-per-day", "2")
    world.queue("partner-b", program, "hooli.com")  # b's key is born; 1 of its 2
    assert world.serve(program)[1]["total"] == 1
    key = RegistrationKey(Profile.load(world.profiles["partner-b"]), program)
    guesses = [_guess(program, d) for d in ("a.com", "b.com", "c.com")]  # (one blinding each)
    signed = [key.sign(g) for g in guesses]
    world.forge(  # a coordinator that let b past its own limit
        [
            (s.request_id, program, "partner-b", g, s.signing_public, s.signature, s.signed_at)
            for s, g in zip(signed, guesses, strict=True)
        ]
    )
    code, served = world.serve(program)
    assert code == 1 and served["evaluated"] == {"partner-b": 1}
    assert len(served["refused"]) == 2
    assert all("used its 2 evaluations of the last 24 hours" in r["reason"] for r in served["refused"])


def test_sync_and_the_agent_serve_the_queue(world: World) -> None:
    program = world.program()
    queued = world.queue("partner-b", program, "acme.com")
    synced = client_json(world.profiles["vendor"], "sync")
    (view,) = [v for v in synced["registrations"] if v["program_id"] == program]
    assert view["evaluated"] == {"partner-b": 1}
    assert json.loads(world.complete("partner-b", program, "acme.com").stdout)["conflict"] is False

    queued = world.queue("partner-a", program, "acme.com")
    agent = client(world.profiles["vendor"], "agent", "--once", "--watch", str(world.files["vendor"]), check=False)
    lines = [json.loads(line) for line in agent.stdout.splitlines() if line.strip()]
    served = [x for x in lines if x["action"] == "registrations" and x.get("program_id") == program]
    assert [(x["outcome"], x.get("fingerprint") or x.get("evaluated")) for x in served] == [
        ("pinned", queued["signing_fingerprint"]),  # a's first request on this program: its key is pinned, and shown
        ("evaluated", {"partner-a": 1}),
    ], agent.stdout
    done = json.loads(world.complete("partner-a", program, "acme.com").stdout)
    assert done["state"] == "registered" and done["conflict"] is True and done["request_id"] == queued["request_id"]

    # REST: the vendor's conflict counts (one account, two registrations); nobody else's
    url = f"{world.coord.http_url}/v1/registrations/programs/{program}/conflicts"
    vendor_key = world.coord.add_api_key("vendor", "analyst")
    got = httpx.get(url, headers={"X-API-Key": vendor_key})
    assert got.status_code == 200, got.text
    assert (got.json()["conflicts"], got.json()["registrations_in_conflict"]) == (1, 2)
    partner_key = world.coord.add_api_key("partner-a", "analyst")
    assert httpx.get(url, headers={"X-API-Key": partner_key}).status_code == 403
    assert httpx.get(url, headers={"X-API-Key": world.coord.add_api_key("vendor", "auditor")}).status_code == 403
    missing = httpx.get(url.replace(program, "prg_0000000000000000"), headers={"X-API-Key": vendor_key})
    assert missing.status_code == 404

    # the audit trail, by program: the vendor's auditor key reads its own entries on this program
    auditor = world.coord.add_api_key("vendor", "auditor")
    entries = httpx.get(
        f"{world.coord.http_url}/v1/audit/entries", params={"program_id": program}, headers={"X-API-Key": auditor}
    ).json()["items"]
    assert {e["action"] for e in entries} == {"registration.program_created", "registration.evaluated"}
    assert all(e["details"]["program_id"] == program for e in entries)
