"""A party removed while one of its streams is open: the stream stops at its next message, over real mTLS gRPC.

The server is a real ``grpc.Server`` with the coordinator's credentials and its ``RevokedCertificates``
interceptor; the two streaming methods are the test's own (the interceptor is what is under test), built
so that the removal happens between two messages by events, never by timing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.enrolment import Enrolment
from cleanroom.coordinator.grpc.enrolment import RevokedCertificates
from cleanroom.coordinator.server import server_credentials
from cleanroom.coordinator.store import Store

WAIT = 60.0  # a bound on a hang only: every wait below is released by an event the test sets


class World:
    def __init__(self, data_dir: DataDir, store: Store, enrolment: Enrolment) -> None:
        self.data_dir, self.store, self.enrolment = data_dir, store, enrolment
        self.release_second = threading.Event()  # the server's second answer waits for it
        self.first_chunk_seen = threading.Event()
        self.chunks_seen: list[bytes] = []

    def answers(self, request: bytes, context: Any) -> Iterator[bytes]:
        yield b"first"
        assert self.release_second.wait(WAIT)
        yield b"second"

    def chunks(self, requests: Iterator[bytes], context: Any) -> bytes:
        for chunk in requests:
            self.chunks_seen.append(chunk)
            self.first_chunk_seen.set()
        return str(len(self.chunks_seen)).encode()


@pytest.fixture
def world(tmp_path):
    data_dir = DataDir(tmp_path / "coordinator")
    data_dir.init(listen="127.0.0.1:0")
    store = Store(data_dir.store_path, data_dir.signer())
    world = World(data_dir, store, Enrolment(store, data_dir))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[RevokedCertificates(world.enrolment)])
    handlers = {
        "Answers": grpc.unary_stream_rpc_method_handler(world.answers),
        "Chunks": grpc.stream_unary_rpc_method_handler(world.chunks),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Streams", handlers)])
    port = server.add_secure_port("127.0.0.1:0", server_credentials(data_dir))
    server.start()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    issued = world.enrolment.enroll(world.enrolment.invite("acme").token, csr.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    credentials = grpc.ssl_channel_credentials(data_dir.ca().cert_pem, key_pem, issued.certificate_pem)
    channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=[("grpc.ssl_target_name_override", "localhost")])
    yield world, channel
    world.release_second.set()
    channel.close()
    server.stop(None)
    store.close()


def test_a_server_stream_open_at_removal_sends_nothing_more(world):
    world, channel = world
    call = channel.unary_stream("/test.Streams/Answers")(b"")
    assert next(call) == b"first"
    world.enrolment.remove_party("acme")
    world.release_second.set()
    with pytest.raises(grpc.RpcError) as refused:
        next(call)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in refused.value.details()


def test_a_client_stream_open_at_removal_stores_nothing_more(world):
    world, channel = world
    removed = threading.Event()

    def chunks() -> Iterator[bytes]:
        yield b"chunk 1"
        assert world.first_chunk_seen.wait(WAIT)
        world.enrolment.remove_party("acme")
        removed.set()
        yield b"chunk 2"

    with pytest.raises(grpc.RpcError):
        channel.stream_unary("/test.Streams/Chunks")(chunks())
    assert removed.is_set() and world.chunks_seen == [b"chunk 1"]
