"""The connection to the coordinator: one channel, its stubs, and the single place gRPC errors become ours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from cleanroom.errors import CleanroomError
from cleanroom.protocol import client_channel_options
from cleanroom.v1 import (
    agreements_pb2_grpc,
    attribution_pb2_grpc,
    audit_pb2_grpc,
    registrations_pb2_grpc,
    results_pb2_grpc,
    runs_pb2_grpc,
)
from cleanroom.wire.status import error_from_rpc
from cleanroom_client.profile import Profile

TIMEOUT = 60.0
STREAM_TIMEOUT = 3600.0

T = TypeVar("T")


class CoordinatorUnavailable(CleanroomError):
    """The coordinator cannot be reached, or refused our TLS handshake."""


def secure_channel(profile: Profile) -> grpc.Channel:
    """mTLS to the profile's coordinator: our certificate and key, the coordinator's CA, our message and header limits."""
    creds = grpc.ssl_channel_credentials(
        root_certificates=(profile.path / "ca.pem").read_bytes(),
        private_key=(profile.path / "party.key").read_bytes(),
        certificate_chain=(profile.path / "party.pem").read_bytes(),
    )
    return grpc.secure_channel(
        profile.coordinator,
        creds,
        options=client_channel_options(),
    )


def _stub(cls: Any, channel: grpc.Channel) -> Any:
    return cls(channel)


class Channel:
    """An open channel to the profile's coordinator with one stub per service."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.channel = secure_channel(profile)
        # The generated stubs are untyped: their methods are reached through ``call`` and ``stream`` only.
        self.agreements: Any = _stub(agreements_pb2_grpc.AgreementServiceStub, self.channel)
        self.runs: Any = _stub(runs_pb2_grpc.RunServiceStub, self.channel)
        self.results: Any = _stub(results_pb2_grpc.ResultServiceStub, self.channel)
        self.attribution: Any = _stub(attribution_pb2_grpc.AttributionServiceStub, self.channel)
        self.audit: Any = _stub(audit_pb2_grpc.AuditServiceStub, self.channel)
        self.registrations: Any = _stub(registrations_pb2_grpc.RegistrationServiceStub, self.channel)

    def close(self) -> None:
        self.channel.close()

    def call(self, method: Callable[..., T], request: Any, timeout: float = TIMEOUT) -> T:
        """One unary (or client-streaming) call; a failure raises our exception, never grpc.RpcError."""
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self.translate(exc) from None

    def stream(self, method: Callable[..., Iterator[T]], request: Any, timeout: float = STREAM_TIMEOUT) -> Iterator[T]:
        """A server-streaming call, read lazily; a failure mid-stream raises our exception too."""
        try:
            yield from method(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self.translate(exc) from None

    def translate(self, exc: grpc.RpcError) -> CleanroomError:
        domain = error_from_rpc(exc)
        if domain is not None:
            return domain
        code = exc.code()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return CoordinatorUnavailable(
                f"cannot reach the coordinator at {self.profile.coordinator} ({code.name.lower()}: {exc.details()}); "
                "is it running, and was this profile issued by it?"
            )
        return CleanroomError(f"coordinator error {code.name}: {exc.details()}")
