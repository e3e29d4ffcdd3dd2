"""Starting the coordinator's gRPC server: mTLS, services, health, graceful stop."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cleanroom.coordinator.admin.listener import AdminListener, start_admin
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.enrolment import Enrolment
from cleanroom.coordinator.grpc import SERVICES, add_services
from cleanroom.coordinator.grpc.enrolment import RevokedCertificates, add_certificate_service, enrolment_server
from cleanroom.coordinator.grpc.wirelog import WireLog
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.store import Store
from cleanroom.errors import InputError
from cleanroom.terminal.logs import EventLog


def server_credentials(data_dir: DataDir, tls: tuple[Path, Path] | None = None) -> grpc.ServerCredentials:
    """mTLS with the data dir's server pair, or ``tls`` (certificate, key) when the config names one."""
    pair = data_dir.server_pair()
    cert_pem, key_pem = (tls[0].read_bytes(), tls[1].read_bytes()) if tls else (pair.cert_pem, pair.key_pem)
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=data_dir.ca().cert_pem,
        require_client_auth=True,
    )


SWEEP_SECONDS = 1.0
log = logging.getLogger("cleanroom.coordinator")


@dataclass(frozen=True)
class Operations:
    """How the server runs, besides its addresses and limits (set by the config file, ``config``)."""

    max_workers: int = 8  # gRPC calls served at once
    sweep_seconds: float = SWEEP_SECONDS
    grace_seconds: float = 2.0  # in-flight calls get this long to finish on SIGTERM
    tls: tuple[Path, Path] | None = None  # gRPC server certificate and key; None: the data dir's
    duckdb_memory_limit: str = ""  # '': DuckDB's default
    duckdb_threads: int = 0  # 0: DuckDB's default
    duckdb_temp_directory: str = ""  # '': duckdb-tmp beside the store file
    events: EventLog = field(default_factory=EventLog)


class RunningServer:
    def __init__(
        self,
        server: grpc.Server,
        port: int,
        coordinator: Coordinator,
        health_servicer: health.HealthServicer,
        sweep_seconds: float = SWEEP_SECONDS,
        enrolment: tuple[Enrolment, grpc.Server, int] | None = None,
    ) -> None:
        self.server, self.port, self.coordinator, self.health = server, port, coordinator, health_servicer
        self.sweep_seconds = sweep_seconds
        self.damaged: str | None = None
        self.stopping = False
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
        while not self._stop.wait(self.sweep_seconds):
            problem = self.coordinator.store.file_problem()
            if problem != damaged:
                damaged = self.damaged = problem
                status = health_pb2.HealthCheckResponse.NOT_SERVING if problem else health_pb2.HealthCheckResponse.SERVING
                for name in ("", *SERVICES):
                    self.health.set(name, status)
                if problem:
                    log.error("store damaged: %s", problem, extra={"event": "store.damaged"})
            if problem:
                continue
            self.coordinator.purge_expired()
            self.coordinator.sweep_abandoned()

    def readiness(self) -> str | None:
        """None while gRPC serves on an open, sound store; else why not (for /readyz)."""
        if self.stopping:
            return "shutting down"
        return f"store damaged: {self.damaged}" if self.damaged else None

    def drain(self, grace: float = 2.0, refusing: Callable[[], None] = lambda: None) -> None:
        """Refuse new calls at once (then call ``refusing``); give those in flight ``grace`` seconds, then cancel them."""
        self.stopping = True
        self.health.enter_graceful_shutdown()
        stopped = self.server.stop(grace)
        refusing()
        self._stop.set()
        self._sweeper.join()
        if self.enroll_server is not None:
            self.enroll_server.stop(grace).wait()
        stopped.wait()

    def close(self) -> None:
        self.coordinator.store.close()

    def stop(self, grace: float = 2.0) -> None:
        self.drain(grace)
        self.close()


def _tune(store: Store, ops: Operations) -> None:
    """DuckDB's memory and thread settings, when the config sets them (values checked by config_schema), and
    where it spills past the memory limit: a directory of the coordinator's own (spilled blocks hold tokens)."""
    spill = Path(ops.duckdb_temp_directory) if ops.duckdb_temp_directory else store.path.parent / "duckdb-tmp"
    spill.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not ops.duckdb_temp_directory:
        spill.chmod(0o700)  # ours alone; a directory the operator named keeps the mode they gave it
    with store.db.reading() as con:
        con.execute("SET temp_directory = ?", [str(spill)])
        if ops.duckdb_memory_limit:
            con.execute(f"SET memory_limit = '{ops.duckdb_memory_limit}'")
        if ops.duckdb_threads:
            con.execute(f"SET threads = {int(ops.duckdb_threads)}")


def _advertised(data_dir: DataDir, port: int) -> str:
    """The mTLS address parties are told at enrolment: the configured one, with the bound port when it says 0."""
    address = str(data_dir.config().get("advertise", ""))
    host, _, configured = address.rpartition(":")
    return f"{host}:{port}" if host and configured == "0" else address


def start(
    data_dir: DataDir,
    listen: str,
    limits: Limits | None = None,
    wire_log: Path | None = None,
    ops: Operations | None = None,
    enroll_listen: str | None = None,
) -> RunningServer:
    ops = ops or Operations()
    try:
        store = Store(data_dir.store_path, data_dir.signer())
    except duckdb.Error as exc:  # a truncated or overwritten file does not open: say which, and what to do
        raise InputError(
            f"cannot open the store {data_dir.store_path}: {exc}. It may be truncated or damaged; restore it from a backup"
        ) from None
    _tune(store, ops)
    enrolment = Enrolment(store, data_dir)
    coordinator = Coordinator(store, limits, parties=enrolment.parties)
    coordinator.resume()  # runs whose last commit landed just before a stop complete now, before any call
    coordinator.sweep_abandoned()  # uploads left idle while the coordinator was stopped go before any call
    interceptors: list[grpc.ServerInterceptor] = [RevokedCertificates(enrolment), *([WireLog(wire_log)] if wire_log else [])]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=ops.max_workers),
        interceptors=interceptors,
        options=coordinator.limits.grpc_options(),
    )
    add_services(server, coordinator)
    add_certificate_service(server, enrolment, lambda: _advertised(data_dir, port))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_secure_port(listen, server_credentials(data_dir, ops.tls))
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
    return RunningServer(server, port, coordinator, health_servicer, ops.sweep_seconds, (enrolment, enroll_server, enroll_port))


def _write_port(path: Path, port: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)  # readers never see a half-written file


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
    ops: Operations | None = None,
    enroll_listen: str | None = None,
    enroll_port_file: Path | None = None,
) -> None:
    ops = ops or Operations()
    events = ops.events
    running = start(data_dir, listen, limits, wire_log, ops, enroll_listen)
    web = None
    if http:  # REST API and pages in a thread of this process, on the same Coordinator and Store
        from cleanroom.coordinator.web.app import start_http

        try:
            cert, key = http_tls or (None, None)
            web = start_http(running.coordinator, http, cert, key, allowed_hosts=http_hosts or [], readiness=running.readiness)
        except BaseException:
            running.stop()
            raise
        if http_port_file:
            _write_port(http_port_file, web.port)
        events.event("http.listening", f"REST API and pages on {web.url} (OpenAPI: {web.url}/v1/openapi.json)", url=web.url)
    host = listen.rsplit(":", 1)[0]
    _announce_enrolment(running, enroll_listen or data_dir.enroll_listen(), enroll_port_file, events)
    if port_file:
        _write_port(port_file, running.port)
    admin = _start_admin(running, data_dir, f"{host}:{running.port}", web.url if web is not None else None)
    events.event(
        "grpc.listening",
        f"coordinator listening on {host}:{running.port} (mTLS); admin socket {admin.path}",
        host=host,
        port=running.port,
        admin_socket=str(admin.path),
    )
    received: list[str] = []
    stop = threading.Event()

    def on_signal(number: int, _frame: object) -> None:
        received.append(signal.Signals(number).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    stop.wait()
    admin.stop()
    _shut_down(running, web, ops, received[0] if received else None)


def _announce_enrolment(running: RunningServer, listen: str, port_file: Path | None, events: EventLog) -> None:
    """The enrolment port's file, before the gRPC port file (which tells a waiting caller both are ready), and its line."""
    if port_file:
        _write_port(port_file, running.enroll_port)
    host = listen.rsplit(":", 1)[0]
    events.event(
        "enroll.listening",
        f"enrolment (server TLS, tokens only) on {host}:{running.enroll_port}",
        host=host,
        port=running.enroll_port,
    )


def _shut_down(running: RunningServer, web: Any, ops: Operations, signal_name: str | None) -> None:
    """New calls are refused from here; calls in flight get the grace period, then are cancelled. An upload
    cut off keeps the chunks it stored (each is its own transaction) and resumes from them."""
    events = ops.events
    running.drain(  # /readyz answers 503 meanwhile
        ops.grace_seconds,
        lambda: events.event(
            "shutdown",
            f"coordinator stopping ({signal_name or 'stop'}): new calls are refused, calls in flight get {ops.grace_seconds:g} s",
            signal=signal_name,
            grace_seconds=ops.grace_seconds,
        ),
    )
    if web is not None:
        web.stop()
    running.close()
    events.event("stopped", "coordinator stopped")


def _start_admin(running: RunningServer, data_dir: DataDir, grpc_address: str, http_url: str | None) -> AdminListener:
    """The admin socket (``cleanroom.coordinator.admin``), once everything it reports on serves."""
    listen = {"grpc": grpc_address, **({"http": http_url} if http_url else {})}
    try:
        return start_admin(running.coordinator.store, data_dir, listen, running.enrolment)
    except BaseException:
        running.stop()
        raise
