"""Deal registration end to end: a coordinator, a vendor and three partners as separate processes over mTLS gRPC.

The vendor creates programs; partners register accounts of their own files; the
vendor's client evaluates the queued (blinded) requests. Ground truth is the
small set of files written here: which partner registered which account, when
(each registration's answer gives its date), so every conflict expected is
known before the coordinator answers. Then: withdrawal and expiry free an
account, a wrong program secret is refused (by the vendor's client, and a
proof made with it by the coordinator), bad input, and the coordinator's store
and wire log searched for every account key in every form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cleanroom import oprf
from cleanroom.demo.localrun import LocalCoordinator, client, client_background, client_json, finish
from cleanroom.errors import InvalidArgument
from cleanroom.oprf.group import encode
from cleanroom.oprf.hash_to_group import hash_to_group
from cleanroom_client.profile import Profile
from cleanroom_client.remote import Remote

from store_scan import ZERO_RUN, stored_bytes

pytestmark = pytest.mark.e2e

FILES = {
    "vendor": [("Acme Corp", "acme.com"), ("Globex", "globex.com"), ("Initech", "initech.com"), ("Hooli", "hooli.com")],
    "partner-a": [("Acme", "https://www.acme.com/about"), ("Umbrella", "umbrella-corp.com"), ("Hooli", "hooli.com"),
                  ("Initech", "initech.com"), ("Vandelay", "vandelay.com")],
    "partner-b": [("ACME Inc", "acme.com"), ("Umbrella Corp", "umbrella-corp.com"), ("Pied Piper", "piedpiper.com"),
                  ("Hooli", "hooli.com"), ("Initech", "initech.com")],
    "partner-c": [("Acme", "acme.com"), ("Vandelay", "vandelay.com")],
}  # fmt: skip
PARTNERS = ("partner-a", "partner-b", "partner-c")


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.wire_log = root / "wire.bin"
        self.coord = LocalCoordinator(root / "coord", wire_log=self.wire_log).init().start()
        self.profiles = {n: self.coord.add_party(n, root / n) for n in ("vendor", *PARTNERS)}
        self.files: dict[str, Path] = {}
        for name, rows in FILES.items():
            path = root / f"{name}.csv"
            path.write_text("Account Name,Website,Type\n" + "".join(f"{a},{w},Customer\n" for a, w in rows))
            self.files[name] = path

    def program(self, *extra: str, partners: str = ",".join(PARTNERS)) -> str:
        made = client_json(
            self.profiles["vendor"], "registrations", "program", "create", "--title", "Q3 deals", "--partners", partners, *extra
        )
        return str(made["program_id"])

    def serve(self, program: str) -> int:
        return int(client_json(self.profiles["vendor"], "registrations", "program", "serve", program)["total"])

    def register(self, partner: str, program: str, account: str) -> dict[str, Any]:
        """Queue (the vendor has not answered), let the vendor serve, then complete: store and forward."""
        queued = client_json(
            self.profiles[partner], "registrations", "register", program, str(self.files[partner]), "--account", account
        )
        assert queued["state"] == "waiting"
        assert self.serve(program) == 1
        done = client_json(
            self.profiles[partner], "registrations", "register", program, str(self.files[partner]), "--account", account
        )
        assert done["state"] == "registered" and done["request_id"] == queued["request_id"], done
        return done

    def conflicts(self, program: str) -> dict[str, Any]:
        args = ("registrations", "program", "conflicts", program, "--file", str(self.files["vendor"]))
        return client_json(self.profiles["vendor"], *args)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    w = World(tmp_path_factory.mktemp("registrations"))
    yield w
    w.coord.stop()


def _holders(conflict: dict[str, Any]) -> list[str]:
    return sorted(h["partner"] for h in conflict["holders"])


def test_conflicts_are_told_to_the_partner_and_to_the_vendor_by_its_own_accounts(world: World) -> None:
    program = world.program()
    first = world.register("partner-a", program, "acme.com")
    assert first["conflict"] is False and first["account"] == "Acme"
    # B learns "conflict", but neither A's identity nor its date (the program reveals neither)
    second = world.register("partner-b", program, "ACME Inc")
    assert second["conflict"] is True
    assert second["other_holder"] == "" and second["other_registered_at"] == ""
    assert "partner-a" not in json.dumps(second)
    # an account nobody else registered: no conflict
    assert world.register("partner-b", program, "piedpiper.com")["conflict"] is False
    # an account outside the vendor's CRM, registered by two partners: counted, not labelled
    assert world.register("partner-a", program, "umbrella-corp.com")["conflict"] is False
    assert world.register("partner-b", program, "umbrella-corp.com")["conflict"] is True

    seen = world.conflicts(program)
    assert [(c["account"], c["domain"], _holders(c)) for c in seen["labelled"]] == [
        ("Acme Corp", "acme.com", ["partner-a", "partner-b"])
    ]
    assert seen["unlabelled"] == 1 and seen["total_conflicts"] == 2
    dates = {h["partner"]: h["registered_at"] for h in seen["labelled"][0]["holders"]}
    assert dates == {"partner-a": first["registered_at"], "partner-b": second["registered_at"]}

    # a partner sees its own registrations, labelled by its own accounts; never another partner's
    listed = client_json(world.profiles["partner-b"], "registrations", "list", program)["registrations"]
    assert sorted((r["account"], r["conflict"], r["state"]) for r in listed) == [
        ("ACME Inc", True, "active"), ("Pied Piper", False, "active"), ("Umbrella Corp", True, "active"),
    ]  # fmt: skip
    assert {r["partner"] for r in listed} == {"partner-b"}

    # withdrawal frees the account: A withdraws Acme, so only B holds it and it is no conflict any more
    withdrawn = client_json(world.profiles["partner-a"], "registrations", "withdraw", program, "acme.com")
    assert withdrawn["state"] == "withdrawn" and withdrawn["registration_id"] == first["registration_id"]
    after = world.conflicts(program)
    assert after["labelled"] == [] and after["unlabelled"] == 1
    third = world.register("partner-c", program, "acme.com")  # B still holds it
    assert third["conflict"] is True


def test_a_withdrawn_registration_frees_the_account_for_the_next_partner(world: World) -> None:
    program = world.program()
    held = world.register("partner-a", program, "vandelay.com")
    client_json(world.profiles["partner-a"], "registrations", "withdraw", program, held["registration_id"])
    assert world.register("partner-c", program, "vandelay.com")["conflict"] is False


def test_the_program_can_reveal_the_date_and_holder(world: World) -> None:
    program = world.program("--reveal-date", "--reveal-holder", partners="partner-a,partner-b")
    first = world.register("partner-a", program, "initech.com")
    second = world.register("partner-b", program, "Initech")
    assert second["conflict"] is True
    assert second["other_registered_at"] == first["registered_at"] and second["other_holder"] == "partner-a"
    date_only = world.program("--reveal-date", partners="partner-a,partner-b")
    first = world.register("partner-a", date_only, "initech.com")
    second = world.register("partner-b", date_only, "initech.com")
    assert (second["other_registered_at"], second["other_holder"]) == (first["registered_at"], "")


def test_an_expired_registration_frees_the_account(world: World) -> None:
    program = world.program("--expiry", "1s", partners="partner-a,partner-b")
    held = world.register("partner-a", program, "hooli.com")
    expires = dt.datetime.fromisoformat(held["expires_at"])
    while dt.datetime.now(dt.UTC) <= expires:  # waits for the clock to pass a known instant, not a guessed duration
        time.sleep(0.2)
    assert world.register("partner-b", program, "hooli.com")["conflict"] is False
    listed = client_json(world.profiles["partner-a"], "registrations", "list", program)["registrations"]
    assert [(r["account"], r["state"]) for r in listed] == [("Hooli", "expired")]


def test_a_waiting_partner_completes_once_the_vendor_serves(world: World) -> None:
    program = world.program(partners="partner-a")
    args = ("registrations", "register", program, str(world.files["partner-a"]), "--account", "globex.com")
    refused = client(world.profiles["partner-a"], *args, check=False)
    assert refused.returncode == 2 and "has no account 'globex.com'" in refused.stderr  # refused locally
    proc = client_background(world.profiles["partner-a"], "registrations", "register", program,
                             str(world.files["partner-a"]), "--account", "hooli.com", "--wait", "10m", "--json")  # fmt: skip
    served = 0
    for _ in range(600):  # until the partner's request has reached the queue
        served += world.serve(program)
        if served:
            break
        time.sleep(0.1)
    result = json.loads(finish(proc))
    assert served == 1 and result["state"] == "registered" and result["conflict"] is False


def test_a_wrong_program_secret_is_refused(world: World) -> None:
    program = world.program(partners="partner-a")
    secret = world.profiles["vendor"] / "registrations" / "programs" / f"{program}.secret"
    right = secret.read_bytes()
    queued = client_json(
        world.profiles["partner-a"], "registrations", "register", program, str(world.files["partner-a"]), "--account", "hooli.com"
    )
    assert queued["state"] == "waiting"
    wrong = oprf.new_secret()
    secret.write_bytes(oprf.scalar_bytes(wrong))
    refused = client(world.profiles["vendor"], "registrations", "program", "serve", program, check=False)
    assert refused.returncode == 2 and "does not match program" in refused.stderr
    # A vendor client that skipped the check is refused by the coordinator: the proof is for another key.
    with Remote(Profile.load(world.profiles["vendor"])) as remote:
        (pending,) = remote.registrations.pending(program)
        evaluated = oprf.evaluate(wrong, pending.blinded)
        with pytest.raises(InvalidArgument, match="does not match"):
            remote.registrations.post(
                program, [(pending.request_id, evaluated, oprf.prove(wrong, pending.blinded, evaluated), "")]
            )
        assert [p.request_id for p in remote.registrations.pending(program)] == [pending.request_id]  # nothing kept
    secret.write_bytes(right)
    assert world.serve(program) == 1
    done = client_json(
        world.profiles["partner-a"], "registrations", "register", program, str(world.files["partner-a"]), "--account", "hooli.com"
    )
    assert done["state"] == "registered"


def test_refusals_checks_per_day_and_strangers(world: World) -> None:
    program = world.program("--max-checks-per-day", "1", partners="partner-a")
    world.register("partner-a", program, "acme.com")
    args = ("registrations", "register", program, str(world.files["partner-a"]), "--account", "hooli.com")
    limited = client(world.profiles["partner-a"], *args, check=False)
    assert limited.returncode != 0 and "1 checks per partner in 24 hours" in limited.stderr
    stranger = client(world.profiles["partner-b"], "registrations", "register", program, str(world.files["partner-b"]),
                      "--account", "acme.com", check=False)  # fmt: skip
    assert stranger.returncode != 0 and "no registration program" in stranger.stderr


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, hashlib.sha256(raw).digest(), hashlib.sha256(raw).hexdigest().encode()]


def test_the_coordinator_holds_no_account_key_and_audits_every_check(world: World) -> None:
    # This module's world is shared by its tests when they run on one worker; the test stands on its own when
    # it does not (xdist may give a module's tests to two workers, each with its own world): it registers here.
    program = world.program()
    world.register("partner-a", program, "acme.com")
    programs = [
        row["program_id"] for row in client_json(world.profiles["vendor"], "registrations", "program", "list")["programs"]
    ]
    assert program in programs
    world.coord.stop()
    received, stored = world.wire_log.read_bytes(), stored_bytes(world.root / "coord")
    needles: dict[bytes, str] = {}
    for rows in FILES.values():
        for name, website in rows:
            domain = website.removeprefix("https://www.").split("/")[0]
            for value in (name, website, domain, f"domain:{domain}"):
                if len(value) >= 5:
                    for form in _forms(value):
                        needles[form] = value
            for program in programs:  # the unblinded hash of the key is a plain function of it too
                context = f"cleanroom/registrations/{program}".encode()
                needles[encode(hash_to_group(f"domain:{domain}".encode(), context))] = f"H({domain})"
    assert max(map(len, needles)) <= ZERO_RUN  # the cut store finds them (store_scan)
    leaks = sorted({what for needle, what in needles.items() if needle in received or needle in stored})
    assert len(received) > 500 and leaks == []  # the wire log holds every message the coordinator received
    # The scan can see what is there: the first program's token for Acme, computed here with the vendor's secret.
    first = program
    k = oprf.scalar_from_bytes((world.profiles["vendor"] / "registrations" / "programs" / f"{first}.secret").read_bytes())
    token = oprf.direct(k, b"domain:acme.com", f"cleanroom/registrations/{first}".encode())
    assert token in stored and token in received

    con = duckdb.connect(str(world.root / "coord" / "coordinator.duckdb"), read_only=True)
    try:
        actions = dict(
            con.execute("SELECT action, count(*) FROM audit_log WHERE action LIKE 'registration.%' GROUP BY action").fetchall()
        )
        registrations = con.execute("SELECT count(*) FROM registrations").fetchone()[0]
        withdrawn = con.execute("SELECT count(*) FROM registrations WHERE withdrawn_at IS NOT NULL").fetchone()[0]
        requests = con.execute("SELECT count(*) FROM registration_evaluations").fetchone()[0]
    finally:
        con.close()
    assert actions["registration.checked"] == actions["registration.registered"] == registrations >= 1
    assert actions["registration.evaluation_requested"] == requests
    assert actions.get("registration.withdrawn", 0) == withdrawn and actions["registration.program_created"] == len(programs)
