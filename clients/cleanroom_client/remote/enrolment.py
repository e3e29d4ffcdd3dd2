"""The enrolment calls: ``Enroll`` on the enrolment port (token, no client certificate), ``Renew`` over mTLS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from cleanroom.errors import CleanroomError
from cleanroom.protocol import client_channel_options
from cleanroom.v1 import enrolment_pb2, enrolment_pb2_grpc
from cleanroom.wire.status import error_from_rpc
from cleanroom_client.profile import Profile
from cleanroom_client.remote.channel import TIMEOUT, secure_channel


@dataclass(frozen=True)
class IssuedCertificate:
    party: str
    certificate_pem: bytes
    serial: str
    not_after: str
    coordinator_signing_public: bytes
    coordinator_address: str


def _issued(message: Any) -> IssuedCertificate:
    return IssuedCertificate(
        message.party,
        bytes(message.certificate_pem),
        message.serial,
        message.not_after,
        bytes(message.coordinator_signing_public),
        message.coordinator_address,
    )


def _error(exc: grpc.RpcError, address: str) -> CleanroomError:
    domain = error_from_rpc(exc)
    if domain is not None:
        return domain
    return CleanroomError(f"the coordinator at {address} answered {exc.code().name}: {exc.details()}")


def enroll(address: str, ca_pem: bytes, token: str, csr_pem: bytes) -> IssuedCertificate:
    """Present the token and CSR over TLS trusting ``ca_pem`` alone (already checked against the pinned fingerprint)."""
    channel = grpc.secure_channel(
        address, grpc.ssl_channel_credentials(root_certificates=ca_pem), options=client_channel_options()
    )
    try:
        stub: Any = enrolment_pb2_grpc.EnrolmentServiceStub(channel)
        return _issued(stub.Enroll(enrolment_pb2.EnrollRequest(invitation=token, csr_pem=csr_pem), timeout=TIMEOUT))
    except grpc.RpcError as exc:
        raise _error(exc, address) from None
    finally:
        channel.close()


def renew(profile: Profile, csr_pem: bytes) -> IssuedCertificate:
    """A new certificate for our new key, asked for with the certificate we hold."""
    channel = secure_channel(profile)
    try:
        stub: Any = enrolment_pb2_grpc.CertificateServiceStub(channel)
        return _issued(stub.Renew(enrolment_pb2.RenewRequest(csr_pem=csr_pem), timeout=TIMEOUT))
    except grpc.RpcError as exc:
        raise _error(exc, profile.coordinator) from None
    finally:
        channel.close()
