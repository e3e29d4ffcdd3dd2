"""The coordinator's gRPC adapter: thin servicers over the Coordinator facade.

The only part of the coordinator that imports the generated ``cleanroom.v1``
code (an import-linter contract): ``convert`` turns values into messages,
``service`` holds the servicers, ``add_services`` puts them on a server.
"""

from __future__ import annotations

from typing import Any

import grpc

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.grpc.registrations import RegistrationService
from cleanroom.coordinator.grpc.service import AgreementService, AttributionService, AuditService, ResultService, RunService
from cleanroom.v1 import (
    agreements_pb2_grpc,
    attribution_pb2_grpc,
    audit_pb2_grpc,
    registrations_pb2_grpc,
    results_pb2_grpc,
    runs_pb2_grpc,
)

# The services a coordinator serves (health reports each by name).
SERVICES = (
    "cleanroom.v1.AgreementService",
    "cleanroom.v1.RunService",
    "cleanroom.v1.ResultService",
    "cleanroom.v1.AttributionService",
    "cleanroom.v1.AuditService",
    "cleanroom.v1.RegistrationService",
)


def add_services(server: grpc.Server, coordinator: Coordinator) -> None:
    """Register every coordinator service on ``server``."""
    # The generated registration functions carry no type hints: called through Any on purpose.
    registrations: list[tuple[Any, Any]] = [
        (agreements_pb2_grpc.add_AgreementServiceServicer_to_server, AgreementService),
        (runs_pb2_grpc.add_RunServiceServicer_to_server, RunService),
        (results_pb2_grpc.add_ResultServiceServicer_to_server, ResultService),
        (attribution_pb2_grpc.add_AttributionServiceServicer_to_server, AttributionService),
        (audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditService),
        (registrations_pb2_grpc.add_RegistrationServiceServicer_to_server, RegistrationService),
    ]
    for register, servicer in registrations:
        register(servicer(coordinator), server)
