"""Deal registration workflows: create a program, serve its evaluations, register, list, withdraw, conflicts.

The account key never leaves the partner's machine: it is hashed to the
group and blinded here (``cleanroom.oprf``), evaluated by the vendor's client
through the coordinator's queue, checked with the vendor's DLEQ proof against
the program's published element, and unblinded here into the token the
coordinator sees. The vendor's secret never leaves the vendor's machine; its
client refuses to evaluate with a secret that does not match the program.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleanroom import oprf
from cleanroom.errors import InputError, ProtocolError
from cleanroom_client.features.registration_serving import Served, serve_once
from cleanroom_client.inputs.accounts import load_accounts
from cleanroom_client.inputs.keys.domain import DomainRejected, canonical_domain
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.registration_keys import RegistrationKey
from cleanroom_client.protocol.registration_state import PartnerState, program_secret, save_secret
from cleanroom_client.protocol.registration_trust import VendorBook
from cleanroom_client.remote import Remote
from cleanroom_client.remote.registrations import Program, RegistrationResult

POLL_SECONDS = 1.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LocalAccount:
    label: str  # how the party knows it (its name in the file, else its domain)
    domain: str  # the canonical domain: the registration key

    @property
    def data(self) -> bytes:
        return f"domain:{self.domain}".encode()


def _context(program_id: str) -> bytes:
    return f"cleanroom/registrations/{program_id}".encode()


def file_accounts(path: Path, key_column: str | None = None, name_column: str | None = None) -> list[LocalAccount]:
    """Every account of a CRM export that has a canonical domain (the registration key), with its label."""
    loaded = load_accounts(path, key_column=key_column, name_column=name_column, default_population="account", keep_fields=False)
    return [LocalAccount(a.name or a.domain, a.domain) for a in loaded.accounts if a.domain]


def account_in_file(path: Path, account: str, key_column: str | None = None, name_column: str | None = None) -> LocalAccount:
    """The file's account named by ``account`` (a domain, URL or e-mail address, or the account's name);
    refused here, before anything is sent, when the file has no such account."""
    try:
        wanted: str | None = canonical_domain(account)
    except DomainRejected:
        wanted = None
    accounts = file_accounts(path, key_column, name_column)
    found = [a for a in accounts if a.domain == wanted] or [a for a in accounts if a.label.casefold() == account.casefold()]
    if not found:
        raise InputError(f"{path} has no account {account!r} (by domain or name); nothing was sent")
    if len({a.domain for a in found}) > 1:
        raise InputError(f"{path} has several accounts named {account!r}; name the account by its domain instead")
    return found[0]


def program_of(remote: Remote, program_id: str) -> Program:
    for program in remote.registrations.programs():
        if program.program_id == program_id:
            return program
    raise InputError(f"no registration program {program_id!r} that you run or are a partner of")


def create_program(remote: Remote, profile: Profile, title: str, partners: list[str], **terms: Any) -> Program:
    """A new program secret k on this machine, the program published with k * G, and k kept under its id."""
    k = oprf.new_secret()
    program = remote.registrations.create_program(title, oprf.public_key(k), partners, **terms)
    save_secret(profile, program.program_id, k)
    book = VendorBook(profile)  # the partners and limit as created here: what the coordinator shows later is not trusted
    book.remember(program)
    book.save()
    return program


def serve(remote: Remote, profile: Profile, program_id: str, wait: float = 0.0, progress: Progress | None = None) -> Served:
    """Evaluate every pending request of the program that passes the vendor's own checks (and keep doing so for
    ``wait`` seconds); what was evaluated, refused and pinned. The secret is checked before anything is evaluated."""
    program = program_of(remote, program_id)
    if program.vendor != profile.party:
        raise InputError(f"program {program_id} is {program.vendor}'s; only its vendor serves evaluations")
    total = Served(program_id)
    deadline = time.monotonic() + wait
    while True:
        served = serve_once(remote, profile, program)
        total.add(served)
        if progress:
            for partner, fingerprint in served.pinned.items():
                progress(
                    f"pinned {partner}'s request-signing key on first use: fingerprint {fingerprint} (compare it with {partner})"
                )
            for r in served.refused:
                progress(f"REFUSED request {r['request_id']} from {r['partner']}: {r['reason']}")
            if served.evaluated:
                progress(f"evaluated {sum(served.evaluated.values())} request(s): "
                         + ", ".join(f"{p} {n}" for p, n in sorted(served.evaluated.items())))  # fmt: skip
        if time.monotonic() >= deadline:
            return total
        time.sleep(POLL_SECONDS)


def trust(remote: Remote, profile: Profile, program_id: str, partner: str, fingerprint: str, replace: bool) -> dict[str, Any]:
    """Pin a partner's request-signing key by the fingerprint it read out to the vendor."""
    program = program_of(remote, program_id)
    if program.vendor != profile.party:
        raise InputError(f"program {program_id} is {program.vendor}'s; only its vendor pins its partners' keys")
    book = VendorBook(profile)
    pin = book.trust(program, partner, fingerprint, replace)
    book.save()
    return {"program_id": program_id, "partner": partner, **pin}


def partner_key(profile: Profile, program_id: str) -> str:
    """This partner's request-signing key fingerprint on the program (the key is created if need be)."""
    return RegistrationKey(profile, program_id).fingerprint()


def _await_evaluation(remote: Remote, request_id: str, wait: float, progress: Progress | None) -> bytes | None:
    deadline, told = time.monotonic() + wait, False
    while True:
        answer = remote.registrations.evaluation(request_id)
        if answer.state == "used":  # an earlier run registered with it and stopped before noting so here
            raise InputError(f"request {request_id} was used by a registration already; `registrations list` shows it")
        if answer.state == "refused":
            raise InputError(
                f"the vendor's client refused request {request_id}: {answer.refused}. Nothing was registered; "
                "run the command again to send a new request (once the reason is dealt with)"
            )
        if answer.state != "pending":
            return answer.evaluated
        if time.monotonic() >= deadline:
            return None
        if progress and not told:
            progress(f"request {request_id} is waiting for the vendor's evaluation (up to {wait:.0f} s)")
            told = True
        time.sleep(POLL_SECONDS)


def register(
    remote: Remote, profile: Profile, program_id: str, account: LocalAccount, wait: float = 0.0, progress: Progress | None = None
) -> dict[str, Any]:
    """Register a deal on ``account``: blind, queue (or resume a queued request), wait for the vendor's evaluation,
    check its proof, unblind and register. ``{"state": "waiting", ...}`` when the vendor has not answered yet."""
    program = program_of(remote, program_id)
    state = PartnerState(profile)
    state.pin(program_id, program.program_public)
    resumed = state.pending_for(program_id, account.domain)
    if resumed is None:
        blinded = oprf.blind(account.data, _context(program_id))
        signed = RegistrationKey(profile, program_id).sign(blinded.element)
        request = remote.registrations.request_evaluation(program_id, blinded.element, signed)
        request_id, entry = request.request_id, {"program_id": program_id, "key": account.domain, "label": account.label}
        entry |= {"r": oprf.scalar_bytes(blinded.r).hex(), "blinded": blinded.element.hex()}
        state.pending[request_id] = entry
        state.save()
    else:
        request_id, entry = resumed
    try:
        evaluated = _await_evaluation(remote, request_id, wait, progress)
    except InputError:
        del state.pending[request_id]
        state.save()
        raise
    fingerprint = partner_key(profile, program_id)
    if evaluated is None:
        return {
            "state": "waiting", "program_id": program_id, "request_id": request_id, "account": account.label,
            "signing_fingerprint": fingerprint,
        }  # fmt: skip
    if not oprf.verify(program.program_public, bytes.fromhex(entry["blinded"]), evaluated, _proof(remote, request_id)):
        raise ProtocolError(
            f"the vendor's evaluation of request {request_id} does not prove it used program {program_id}'s published "
            "element; not registered (tell the vendor: its client evaluated with another secret)"
        )
    r = oprf.scalar_from_bytes(bytes.fromhex(entry["r"]), "blinding scalar")
    token = oprf.finalize(account.data, _context(program_id), r, evaluated)
    result = remote.registrations.register(program_id, request_id, token)
    del state.pending[request_id]
    state.registered[result.registration.registration_id] = {
        "program_id": program_id,
        "key": account.domain,
        "label": account.label,
    }
    state.save()
    return {**_result_view(result, account), "request_id": request_id, "signing_fingerprint": fingerprint}


def _proof(remote: Remote, request_id: str) -> bytes:
    return remote.registrations.evaluation(request_id).proof


def _result_view(result: RegistrationResult, account: LocalAccount) -> dict[str, Any]:
    # "state" says what the command did (registered, or waiting); the registration's own state is "status".
    view = {**vars(result.registration), "status": result.registration.state, "state": "registered", "account": account.label}
    view["domain"] = account.domain
    view |= {"conflict": result.conflict, "other_registered_at": result.other_registered_at, "other_holder": result.other_holder}
    return view


def registrations(remote: Remote, profile: Profile, program_id: str = "") -> list[dict[str, Any]]:
    """Our registrations as the coordinator holds them, labelled with our own accounts (kept here)."""
    labels = PartnerState(profile).registered
    return [
        {**vars(r), "account": labels.get(r.registration_id, {}).get("label", "")}
        for r in remote.registrations.registrations(program_id)
    ]


def withdraw(remote: Remote, profile: Profile, program_id: str, which: str) -> dict[str, Any]:
    """Withdraw a registration named by its id, or by its account's domain or label on ``program_id``."""
    state = PartnerState(profile)
    ids = [which] if which.startswith("reg_") else [
        rid for rid, e in state.registered.items() if e["program_id"] == program_id and which in (e["key"], e["label"])
    ]  # fmt: skip
    active = {r.registration_id for r in remote.registrations.registrations(program_id) if r.state == "active"}
    chosen = [i for i in ids if i in active] or ids
    if not chosen:
        raise InputError(f"no registration of yours on {which!r} in program {program_id}; `registrations list` shows them")
    withdrawn = remote.registrations.withdraw(chosen[0])
    return {**vars(withdrawn), "account": state.registered.get(withdrawn.registration_id, {}).get("label", "")}


def conflicts(remote: Remote, profile: Profile, program_id: str, crm: Path | None, batch: int = 50_000) -> dict[str, Any]:
    """The vendor's conflicts: labelled by its own accounts (tokens it computes with its secret), the rest counted."""
    program = program_of(remote, program_id)
    k = program_secret(profile, program_id, program.program_public)
    accounts = file_accounts(crm) if crm else []
    by_token = {oprf.direct(k, a.data, _context(program_id)): a for a in accounts}
    tokens = list(by_token)
    labelled: list[dict[str, Any]] = []
    total = remote.registrations.conflicts(program_id, []).total_conflicts if not tokens else 0
    for start in range(0, len(tokens), batch):
        found = remote.registrations.conflicts(program_id, tokens[start : start + batch])
        total = found.total_conflicts
        for token, holders in found.labelled.items():
            account = by_token[token]
            labelled.append({"account": account.label, "domain": account.domain, "holders": [vars(h) for h in holders]})
    labelled.sort(key=lambda c: c["domain"])
    return {"program_id": program_id, "labelled": labelled, "unlabelled": total - len(labelled), "total_conflicts": total}
