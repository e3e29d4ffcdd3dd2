"""The enrolment servicers, the enrolment server, and the check that refuses revoked certificates on every call.

Enrolment runs on a port of its own, a separate ``grpc.Server`` with server
TLS only that hosts ``EnrolmentService`` and nothing else, with small limits.
The mTLS port keeps requiring a client certificate in the TLS handshake, so a
peer without one never reaches a servicer, a deserialiser or our code there;
an unauthenticated peer on the enrolment port can reach one method that reads
at most 64 KiB. (One port with client auth optional would put every service
one missing check away from the unauthenticated.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from cleanroom.coordinator.enrolment import Enrolment, Issued
from cleanroom.errors import CleanroomError, RequestError
from cleanroom.v1 import enrolment_pb2, enrolment_pb2_grpc
from cleanroom.wire.status import grpc_code

log = logging.getLogger("cleanroom.coordinator.enrolment")
ENROLMENT_MAX_MESSAGE = 64 * 1024
ENROLMENT_SERVICE = "cleanroom.v1.EnrolmentService"
CERTIFICATE_SERVICE = "cleanroom.v1.CertificateService"


def _issued_message(issued: Issued, signing_public: bytes, address: str) -> Any:
    return enrolment_pb2.IssuedCertificate(
        party=issued.party,
        certificate_pem=issued.certificate_pem,
        serial=issued.serial,
        not_after=issued.not_after,
        coordinator_signing_public=signing_public,
        coordinator_address=address,
    )


def _answer(work: Callable[[], Any], context: grpc.ServicerContext, method: str) -> Any:
    try:
        return work()
    except RequestError as exc:  # audited by Enrolment already
        context.abort(grpc_code(exc), str(exc))
    except CleanroomError:
        raise
    except Exception:
        log.exception("internal error in %s", method)
        context.abort(grpc.StatusCode.INTERNAL, f"internal error at the coordinator in {method}; its log has the details")


def peer_certificate(context: grpc.ServicerContext) -> bytes | None:
    found = context.auth_context().get("x509_pem_cert") or []
    return bytes(found[0]) if len(found) == 1 else None


class EnrolmentServicer(enrolment_pb2_grpc.EnrolmentServiceServicer):
    def __init__(self, enrolment: Enrolment, address: Callable[[], str]) -> None:
        self.enrolment, self.address = enrolment, address

    def Enroll(self, request: Any, context: grpc.ServicerContext) -> Any:
        def work() -> Any:
            issued = self.enrolment.enroll(request.invitation, request.csr_pem)
            return _issued_message(issued, self.enrolment.data_dir.signer().public_pem, self.address())

        return _answer(work, context, "Enroll")


class CertificateServicer(enrolment_pb2_grpc.CertificateServiceServicer):
    def __init__(self, enrolment: Enrolment, address: Callable[[], str]) -> None:
        self.enrolment, self.address = enrolment, address

    def Renew(self, request: Any, context: grpc.ServicerContext) -> Any:
        def work() -> Any:
            issued = self.enrolment.renew(peer_certificate(context) or b"", request.csr_pem)
            return _issued_message(issued, self.enrolment.data_dir.signer().public_pem, self.address())

        return _answer(work, context, "Renew")


def enrolment_server(enrolment: Enrolment, listen: str, address: Callable[[], str]) -> tuple[grpc.Server, int]:
    """The enrolment port: server TLS (its certificate chain carries the CA, which clients check against their
    pinned fingerprint), EnrolmentService only, a 64 KiB message limit and two threads."""
    data_dir = enrolment.data_dir
    pair = data_dir.server_pair()
    chain = pair.cert_pem + data_dir.ca().cert_pem
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        options=[
            ("grpc.max_receive_message_length", ENROLMENT_MAX_MESSAGE),
            ("grpc.max_send_message_length", ENROLMENT_MAX_MESSAGE),
        ],
    )
    enrolment_pb2_grpc.add_EnrolmentServiceServicer_to_server(EnrolmentServicer(enrolment, address), server)
    port = server.add_secure_port(listen, grpc.ssl_server_credentials([(pair.key_pem, chain)], require_client_auth=False))
    if port == 0:
        raise OSError(f"cannot listen on {listen} for enrolment")
    return server, port


def add_certificate_service(server: grpc.Server, enrolment: Enrolment, address: Callable[[], str]) -> None:
    enrolment_pb2_grpc.add_CertificateServiceServicer_to_server(CertificateServicer(enrolment, address), server)


def _rechecked(messages: Iterator[Any], check: Callable[[], object]) -> Iterator[Any]:
    for message in messages:
        check()
        yield message


class RevokedCertificates(grpc.ServerInterceptor):
    """Refuses every call on the mTLS port whose client certificate was revoked (a removed party, a renewed
    certificate), before the servicer runs: UNAUTHENTICATED, audited. The check is an in-memory set lookup."""

    def __init__(self, enrolment: Enrolment) -> None:
        self.enrolment = enrolment

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = str(handler_call_details.method)
        guard = self._guard(method)
        for kind, factory in (
            ("unary_unary", grpc.unary_unary_rpc_method_handler),
            ("unary_stream", grpc.unary_stream_rpc_method_handler),
            ("stream_unary", grpc.stream_unary_rpc_method_handler),
            ("stream_stream", grpc.stream_stream_rpc_method_handler),
        ):
            behaviour = getattr(handler, kind)
            if behaviour is not None:
                return factory(
                    guard(behaviour, kind.startswith("stream"), kind.endswith("stream")),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler

    def _guard(self, method: str) -> Callable[[Callable[..., Any], bool, bool], Callable[..., Any]]:
        def wrap(behaviour: Callable[..., Any], streams_in: bool, streams_out: bool) -> Callable[..., Any]:
            def guarded(request: Any, context: grpc.ServicerContext) -> Any:
                cert = peer_certificate(context)

                def check() -> None:
                    try:
                        self.enrolment.check_peer(cert)
                    except RequestError as exc:
                        self._audit(cert, method, exc)
                        context.abort(grpc_code(exc), str(exc))

                check()
                # A stream opened before a removal must not go on carrying points: checked again per message. A
                # request stream raises the refusal into the servicer, which audits it and answers its status.
                answer = behaviour(
                    _rechecked(request, lambda: self.enrolment.check_peer(cert)) if streams_in else request, context
                )
                return _rechecked(answer, check) if streams_out else answer

            return guarded

        return wrap

    def _audit(self, cert: bytes | None, method: str, exc: RequestError) -> None:
        try:
            party = self.enrolment.party_of(cert)
            self.enrolment.store.audit_now(party, "certificate.refused", None, {"method": method[:200], "reason": str(exc)[:500]})
        except Exception:  # the caller still gets its refusal
            log.exception("could not audit a refused certificate")
