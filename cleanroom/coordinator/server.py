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

from cleanroom.coordinator.admin.listener import AdminListener, start_admin
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.grpc import SERVICES, add_services
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
    def __init__(self, server: grpc.Server, port: int, coordinator: Coordinator, health_servicer: health.HealthServicer) -> None:
        self.server, self.port, self.coordinator, self.health = server, port, coordinator, health_servicer
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
        self.server.stop(grace).wait()
        self.coordinator.store.close()


def start(data_dir: DataDir, listen: str, limits: Limits | None = None, wire_log: Path | None = None) -> RunningServer:
    try:
        store = Store(data_dir.store_path, data_dir.signer())
    except duckdb.Error as exc:  # a truncated or overwritten file does not open: say which, and what to do
        raise InputError(
            f"cannot open the store {data_dir.store_path}: {exc}. It may be truncated or damaged; restore it from a backup"
        ) from None
    coordinator = Coordinator(store, limits, parties=lambda: data_dir.issued().keys())
    coordinator.resume()  # runs whose last commit landed just before a stop complete now, before any call
    coordinator.sweep_abandoned()  # uploads left idle while the coordinator was stopped go before any call
    interceptors = [WireLog(wire_log)] if wire_log else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=interceptors,
        options=coordinator.limits.grpc_options(),
    )
    add_services(server, coordinator)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_secure_port(listen, server_credentials(data_dir))
    if port == 0:
        store.close()
        raise OSError(f"cannot listen on {listen}")
    server.start()
    for name in ("", *SERVICES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, coordinator, health_servicer)


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
) -> None:
    running = start(data_dir, listen, limits, wire_log)
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
    if port_file:
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(f"{running.port}\n")
        os.replace(tmp, port_file)  # readers never see a half-written file
    admin = _start_admin(running, data_dir, f"{host}:{running.port}", web.url if web is not None else None)
    print(f"coordinator listening on {host}:{running.port} (mTLS); admin socket {admin.path}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    admin.stop()
    if web is not None:
        web.stop()
    running.stop()


def _start_admin(running: RunningServer, data_dir: DataDir, grpc_address: str, http_url: str | None) -> AdminListener:
    """The admin socket (``cleanroom.coordinator.admin``), once everything it reports on serves."""
    listen = {"grpc": grpc_address, **({"http": http_url} if http_url else {})}
    try:
        return start_admin(running.coordinator.store, data_dir, listen)
    except BaseException:
        running.stop()
        raise
