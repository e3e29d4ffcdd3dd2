"""The deal-registration servicer (proto/cleanroom/v1/registrations.proto): requests in, plain dicts out, messages back."""

from __future__ import annotations

from typing import Any

import grpc

from cleanroom.coordinator.grpc.service import _Base, rpc
from cleanroom.v1 import registrations_pb2 as pb
from cleanroom.v1 import registrations_pb2_grpc


def _program(p: dict[str, Any]) -> pb.Program:
    return pb.Program(**p)


def _evaluations(rows: list[dict[str, Any]]) -> pb.EvaluationList:
    return pb.EvaluationList(evaluations=[pb.Evaluation(**r) for r in rows])


def _registration(r: dict[str, Any]) -> pb.Registration:
    return pb.Registration(**r)


class RegistrationService(_Base, registrations_pb2_grpc.RegistrationServiceServicer):
    @rpc
    def CreateProgram(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return _program(
            self.coordinator.programs.create(
                caller,
                request.title,
                request.program_public,
                list(request.partners),
                expiry_seconds=request.expiry_seconds,
                reveal_date=request.reveal_date,
                reveal_holder=request.reveal_holder,
                max_checks_per_day=request.max_checks_per_day,
            )
        )

    @rpc
    def ListPrograms(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ProgramList(programs=[_program(p) for p in self.coordinator.programs.list(caller)])

    @rpc
    def RequestEvaluation(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.Evaluation(
            **self.coordinator.programs.request(
                caller,
                request.program_id,
                request.blinded,
                request.request_id,
                request.signing_public,
                request.signature,
                request.signed_at,
            )
        )

    @rpc
    def GetEvaluation(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.Evaluation(**self.coordinator.programs.get(caller, request.request_id))

    @rpc
    def PendingEvaluations(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return _evaluations(self.coordinator.programs.pending(caller, request.program_id, request.limit))

    @rpc
    def PostEvaluations(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        answers = [(e.request_id, e.evaluated, e.proof, e.refused) for e in request.evaluations]
        return _evaluations(self.coordinator.programs.post(caller, request.program_id, answers))

    @rpc
    def Register(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        result = self.coordinator.registrations.register(caller, request.program_id, request.request_id, request.token)
        return pb.RegistrationResult(
            registration=_registration(result["registration"]),
            conflict=result["conflict"],
            other_registered_at=result["other_registered_at"],
            other_holder=result["other_holder"],
        )

    @rpc
    def ListRegistrations(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        rows = self.coordinator.registrations.list(caller, request.program_id)
        return pb.RegistrationList(registrations=[_registration(r) for r in rows])

    @rpc
    def Withdraw(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return _registration(self.coordinator.registrations.withdraw(caller, request.registration_id))

    @rpc
    def Conflicts(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        found = self.coordinator.registrations.conflicts(caller, request.program_id, list(request.tokens))
        labelled = [
            pb.Conflict(token=c["token"], holders=[pb.ConflictHolder(**h) for h in c["holders"]]) for c in found["labelled"]
        ]
        return pb.ConflictList(labelled=labelled, total_conflicts=found["total_conflicts"])
