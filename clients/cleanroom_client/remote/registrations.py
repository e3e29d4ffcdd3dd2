"""The coordinator's deal-registration service as the client sees it: typed calls over our own records."""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.crypto.evaluation_signing import SignedRequest
from cleanroom.v1 import registrations_pb2 as pb
from cleanroom_client.remote.channel import Channel


@dataclass(frozen=True)
class Program:
    program_id: str
    vendor: str
    title: str
    program_public: bytes
    partners: tuple[str, ...]
    expiry_seconds: int
    reveal_date: bool
    reveal_holder: bool
    max_checks_per_day: int
    created_at: str


@dataclass(frozen=True)
class Evaluation:
    request_id: str
    program_id: str
    partner: str
    state: str  # pending, evaluated, refused, used
    blinded: bytes
    evaluated: bytes
    proof: bytes
    requested_at: str
    evaluated_at: str
    signing_public: bytes  # the partner's signed request, as the coordinator relays it
    signature: bytes
    signed_at: str
    refused: str  # the vendor's client's reason, when it refused


@dataclass(frozen=True)
class Registration:
    registration_id: str
    program_id: str
    partner: str
    registered_at: str
    expires_at: str
    state: str  # active, withdrawn, expired
    withdrawn_at: str
    conflict: bool


@dataclass(frozen=True)
class RegistrationResult:
    registration: Registration
    conflict: bool
    other_registered_at: str  # empty unless the program reveals it
    other_holder: str  # empty unless the program reveals it


@dataclass(frozen=True)
class Holder:
    partner: str
    registration_id: str
    registered_at: str
    expires_at: str


@dataclass(frozen=True)
class Conflicts:
    labelled: dict[bytes, tuple[Holder, ...]]  # our token -> the partners holding it
    total_conflicts: int


def _program(m: pb.Program) -> Program:
    return Program(
        m.program_id, m.vendor, m.title, bytes(m.program_public), tuple(m.partners), int(m.expiry_seconds),
        m.reveal_date, m.reveal_holder, int(m.max_checks_per_day), m.created_at,
    )  # fmt: skip


def _evaluation(m: pb.Evaluation) -> Evaluation:
    return Evaluation(
        m.request_id, m.program_id, m.partner, m.state, bytes(m.blinded), bytes(m.evaluated), bytes(m.proof),
        m.requested_at, m.evaluated_at, bytes(m.signing_public), bytes(m.signature), m.signed_at, m.refused,
    )  # fmt: skip


def _registration(m: pb.Registration) -> Registration:
    return Registration(
        m.registration_id, m.program_id, m.partner, m.registered_at, m.expires_at, m.state, m.withdrawn_at, m.conflict
    )


class RegistrationRemote:
    def __init__(self, wire: Channel) -> None:
        self._wire = wire

    def create_program(
        self, title: str, program_public: bytes, partners: list[str], expiry_seconds: int, reveal_date: bool,
        reveal_holder: bool, max_checks_per_day: int,
    ) -> Program:  # fmt: skip
        request = pb.CreateProgramRequest(
            title=title, program_public=program_public, partners=partners, expiry_seconds=expiry_seconds,
            reveal_date=reveal_date, reveal_holder=reveal_holder, max_checks_per_day=max_checks_per_day,
        )  # fmt: skip
        return _program(self._wire.call(self._wire.registrations.CreateProgram, request))

    def programs(self) -> list[Program]:
        found = self._wire.call(self._wire.registrations.ListPrograms, pb.ListProgramsRequest())
        return [_program(p) for p in found.programs]

    def request_evaluation(self, program_id: str, blinded: bytes, signed: SignedRequest) -> Evaluation:
        request = pb.RequestEvaluationRequest(
            program_id=program_id, blinded=blinded, request_id=signed.request_id, signing_public=signed.signing_public,
            signature=signed.signature, signed_at=signed.signed_at,
        )  # fmt: skip
        return _evaluation(self._wire.call(self._wire.registrations.RequestEvaluation, request))

    def evaluation(self, request_id: str) -> Evaluation:
        request = pb.GetEvaluationRequest(request_id=request_id)
        return _evaluation(self._wire.call(self._wire.registrations.GetEvaluation, request))

    def pending(self, program_id: str, limit: int = 0) -> list[Evaluation]:
        request = pb.PendingEvaluationsRequest(program_id=program_id, limit=limit)
        return [_evaluation(e) for e in self._wire.call(self._wire.registrations.PendingEvaluations, request).evaluations]

    def post(self, program_id: str, answers: list[tuple[str, bytes, bytes, str]]) -> list[Evaluation]:
        """Each answer: (request id, evaluated, proof, "") or, refused, (request id, b"", b"", the reason)."""
        posted = [pb.PostedEvaluation(request_id=r, evaluated=e, proof=p, refused=why) for r, e, p, why in answers]
        request = pb.PostEvaluationsRequest(program_id=program_id, evaluations=posted)
        return [_evaluation(e) for e in self._wire.call(self._wire.registrations.PostEvaluations, request).evaluations]

    def register(self, program_id: str, request_id: str, token: bytes) -> RegistrationResult:
        request = pb.RegisterRequest(program_id=program_id, request_id=request_id, token=token)
        m = self._wire.call(self._wire.registrations.Register, request)
        return RegistrationResult(_registration(m.registration), m.conflict, m.other_registered_at, m.other_holder)

    def registrations(self, program_id: str = "") -> list[Registration]:
        request = pb.ListRegistrationsRequest(program_id=program_id)
        return [_registration(r) for r in self._wire.call(self._wire.registrations.ListRegistrations, request).registrations]

    def withdraw(self, registration_id: str) -> Registration:
        request = pb.WithdrawRequest(registration_id=registration_id)
        return _registration(self._wire.call(self._wire.registrations.Withdraw, request))

    def conflicts(self, program_id: str, tokens: list[bytes]) -> Conflicts:
        found = self._wire.call(self._wire.registrations.Conflicts, pb.ConflictsRequest(program_id=program_id, tokens=tokens))
        labelled = {
            bytes(c.token): tuple(Holder(h.partner, h.registration_id, h.registered_at, h.expires_at) for h in c.holders)
            for c in found.labelled
        }
        return Conflicts(labelled, int(found.total_conflicts))
