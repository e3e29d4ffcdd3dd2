"""Starting the coordinator's gRPC server: mTLS, services, health, graceful stop."""

from __future__ import annotations

import logging
import os
import signal
import threading
from concurrent import futures
from pathlib import Path

import duckdb
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.enrolment import Enrolment
from cleanroom.coordinator.grpc import SERVICES, add_services
from cleanroom.coordinator.grpc.enrolment import RevokedCertificates, add_certificate_service, enrolment_server
from cleanroom.coordinator.grpc.wirelog import WireLog
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.store import Store
from cleanroom.errors import InputError


def server_credentials(data_dir: DataDir) -> grpc.ServerCredentials:
    pair = data_dir.server_pair()
    return grpc.ssl_server_credentials(
        [(pair.key_pem, pair.cert_pem)],
        root_certificates=data_dir.ca().cert_pem,
        require_client_auth=True,
    )


SWEEP_SECONDS = 1.0
log = logging.getLogger("cleanroom.coordinator")


class RunningServer:
    def __init__(
        self,
        server: grpc.Server,
        port: int,
        coordinator: Coordinator,
        health_servicer: health.HealthServicer,
        enrolment: tuple[Enrolment, grpc.Server, int] | None = None,
    ) -> None:
        self.server, self.port, self.coordinator, self.health = server, port, coordinator, health_servicer
        # Enrolment (cleanroom.coordinator.enrolment): its operations on this server's store, and its own port.
        self.enrolment: Enrolment | None = enrolment[0] if enrolment else None
        self.enroll_server: grpc.Server | None = enrolment[1] if enrolment else None
        self.enroll_port = enrolment[2] if enrolment else 0
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="retention-sweeper", daemon=True)
        self._sweeper.start()

    def _sweep(self) -> None:
        """Each second: check the store's file (gRPC health says NOT_SERVING while it is damaged, and nothing
        is swept into it), delete points of finished runs past their retention, and uploads left idle."""
        damaged: str | None = None
        while not self._stop.wait(SWEEP_SECONDS):
            problem = self.coordinator.store.file_problem()
            if problem != damaged:
                damaged = problem
                status = health_pb2.HealthCheckResponse.NOT_SERVING if problem else health_pb2.HealthCheckResponse.SERVING
                for name in ("", *SERVICES):
                    self.health.set(name, status)
                if problem:
                    log.error("store damaged: %s", problem)
            if problem:
                continue
            self.coordinator.purge_expired()
            self.coordinator.sweep_abandoned()

    def stop(self, grace: float = 2.0) -> None:
        self._stop.set()
        self._sweeper.join()
        self.health.enter_graceful_shutdown()
        if self.enroll_server is not None:
            self.enroll_server.stop(grace).wait()
        self.server.stop(grace).wait()
        self.coordinator.store.close()


def _advertised(data_dir: DataDir, port: int) -> str:
    """The mTLS address parties are told at enrolment: the configured one, with the bound port when it says 0."""
    address = str(data_dir.config().get("advertise", ""))
    host, _, configured = address.rpartition(":")
    return f"{host}:{port}" if host and configured == "0" else address


def start(
    data_dir: DataDir, listen: str, limits: Limits | None = None, wire_log: Path | None = None, enroll_listen: str | None = None
) -> RunningServer:
    try:
        store = Store(data_dir.store_path, data_dir.signer())
    except duckdb.Error as exc:  # a truncated or overwritten file does not open: say which, and what to do
        raise InputError(
            f"cannot open the store {data_dir.store_path}: {exc}. It may be truncated or damaged; restore it from a backup"
        ) from None
    enrolment = Enrolment(store, data_dir)
    coordinator = Coordinator(store, limits, parties=enrolment.parties)
    coordinator.resume()  # runs whose last commit landed just before a stop complete now, before any call
    coordinator.sweep_abandoned()  # uploads left idle while the coordinator was stopped go before any call
    interceptors: list[grpc.ServerInterceptor] = [RevokedCertificates(enrolment), *([WireLog(wire_log)] if wire_log else [])]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=interceptors,
        options=coordinator.limits.grpc_options(),
    )
    add_services(server, coordinator)
    add_certificate_service(server, enrolment, lambda: _advertised(data_dir, port))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_secure_port(listen, server_credentials(data_dir))
    if port == 0:
        store.close()
        raise OSError(f"cannot listen on {listen}")
    try:
        enroll_server, enroll_port = enrolment_server(
            enrolment, enroll_listen or data_dir.enroll_listen(), lambda: _advertised(data_dir, port)
        )
    except OSError:
        store.close()
        raise
    server.start()
    enroll_server.start()
    for name in ("", *SERVICES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, coordinator, health_servicer, (enrolment, enroll_server, enroll_port))


def serve_forever(
    data_dir: DataDir,
    listen: str,
    limits: Limits | None = None,
    port_file: Path | None = None,
    wire_log: Path | None = None,
    http: str | None = None,
    http_port_file: Path | None = None,
    http_tls: tuple[Path, Path] | None = None,
    http_hosts: list[str] | None = None,
    enroll_listen: str | None = None,
    enroll_port_file: Path | None = None,
) -> None:
    running = start(data_dir, listen, limits, wire_log, enroll_listen)
    web = None
    if http:  # REST API and pages in a thread of this process, on the same Coordinator and Store
        from cleanroom.coordinator.web.app import start_http

        try:
            cert, key = http_tls or (None, None)
            web = start_http(running.coordinator, http, cert, key, allowed_hosts=http_hosts or [])
        except BaseException:
            running.stop()
            raise
        if http_port_file:
            tmp = http_port_file.with_suffix(".tmp")
            tmp.write_text(f"{web.port}\n")
            os.replace(tmp, http_port_file)
        print(f"REST API and pages on {web.url} (OpenAPI: {web.url}/v1/openapi.json)", flush=True)
    host = listen.rsplit(":", 1)[0]
    if enroll_port_file:  # before the gRPC port file, which tells a waiting caller that both are ready
        tmp = enroll_port_file.with_suffix(".tmp")
        tmp.write_text(f"{running.enroll_port}\n")
        os.replace(tmp, enroll_port_file)
    print(
        f"enrolment (server TLS, tokens only) on {(enroll_listen or data_dir.enroll_listen()).rsplit(':', 1)[0]}:{running.enroll_port}",
        flush=True,
    )
    if port_file:
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(f"{running.port}\n")
        os.replace(tmp, port_file)  # readers never see a half-written file
    print(f"coordinator listening on {host}:{running.port} (mTLS)", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    if web is not None:
        web.stop()
    running.stop()
