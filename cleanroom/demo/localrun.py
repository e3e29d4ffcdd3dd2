"""Running a real coordinator and real clients as local processes.

Used by ``cleanroom demo``, the end-to-end tests and the benchmarks, so all
three exercise the same thing a deployment runs: separate processes talking
mTLS gRPC over loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cleanroom.errors import CleanroomError

COORDINATOR = [sys.executable, "-m", "cleanroom.coordinator.cli"]
CLIENT = [sys.executable, "-m", "cleanroom_client.cli"]


class ProcessFailed(CleanroomError):
    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(f"{' '.join(argv[2:])} exited {returncode}: {stderr.strip() or stdout.strip()}")
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(
    argv: list[str], timeout: float = 300.0, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise ProcessFailed(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


@dataclass
class LocalCoordinator:
    """A coordinator process on a free loopback port, with its own data dir."""

    data_dir: Path
    max_points: int | None = None
    wire_log: Path | None = None
    port: int = 0
    http: bool = False  # also serve the REST API and pages (on loopback, plain HTTP)
    http_port: int = 0
    serve_args: tuple[str, ...] = ()  # further `serve` flags (limits, allowed hosts)
    enroll_port: int = 0  # the enrolment port (server TLS, tokens), kept across restarts like ``port``
    process: subprocess.Popen | None = field(default=None, repr=False)

    def init(self) -> LocalCoordinator:
        run([*COORDINATOR, "coordinator", "init", "--data-dir", str(self.data_dir), "--listen", "127.0.0.1:0"])
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalCoordinator:
        port_file = self.data_dir / "serve.port"
        port_file.unlink(missing_ok=True)
        listen = f"127.0.0.1:{self.port}"  # the same port again after a restart
        argv = [
            *COORDINATOR,
            "coordinator",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            listen,
            "--port-file",
            str(port_file),
        ]
        enroll_port_file = self.data_dir / "enroll.port"
        argv += ["--enroll-listen", f"127.0.0.1:{self.enroll_port}", "--enroll-port-file", str(enroll_port_file)]
        if self.max_points:
            argv += ["--max-points", str(self.max_points)]
        if self.wire_log:
            argv += ["--wire-log", str(self.wire_log)]
        argv += list(self.serve_args)
        http_port_file = self.data_dir / "http.port"
        if self.http:  # the HTTP port file is written before the gRPC one, so both are ready below
            http_port_file.unlink(missing_ok=True)
            argv += ["--http", f"127.0.0.1:{self.http_port}", "--http-port-file", str(http_port_file)]
        with open(self.data_dir / "coordinator.log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.process.poll() is not None:
                raise CleanroomError(
                    f"coordinator exited with {self.process.returncode}; see {self.data_dir / 'coordinator.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise CleanroomError("coordinator did not start in time")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.enroll_port = int(enroll_port_file.read_text())  # written before the gRPC port file
        if self.http:
            self.http_port = int(http_port_file.read_text())
        return self

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def add_api_key(self, party: str, role: str) -> str:
        """A new API key (serving or stopped: the command asks a serving coordinator over its admin socket)."""
        argv = [*COORDINATOR, "coordinator", "add-api-key", "--data-dir", str(self.data_dir), "--role", role]
        return run(argv + (["--party", party] if party else [])).stdout.strip()

    @property
    def enroll_address(self) -> str:
        return f"127.0.0.1:{self.enroll_port}"

    def invite(self, name: str, expires: str = "72h") -> dict[str, Any]:
        """A one-time enrolment invitation (through the admin socket while serving, else on the store file)."""
        argv = [*COORDINATOR, "coordinator", "invite", name, "--data-dir", str(self.data_dir), "--expires", expires, "--json"]
        found: dict[str, Any] = json.loads(run(argv).stdout)
        return found

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def add_party(self, name: str, out: Path) -> Path:
        run(
            [
                *COORDINATOR,
                "coordinator",
                "add-party",
                name,
                "--data-dir",
                str(self.data_dir),
                "--out",
                str(out),
                "--address",
                self.address,
            ]
        )
        return out


def client(profile: Path, *args: str, timeout: float = 600.0, check: bool = True) -> subprocess.CompletedProcess:
    return run([*CLIENT, "--profile", str(profile), *args], timeout=timeout, check=check)


def client_json(profile: Path, *args: str, timeout: float = 600.0) -> Any:
    return json.loads(client(profile, *args, "--json", timeout=timeout).stdout)


def client_background(profile: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLIENT, "--profile", str(profile), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen, timeout: float = 600.0) -> str:
    stdout, stderr = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise ProcessFailed(
            [str(a) for a in cast("list[str]", proc.args)], proc.returncode, stdout, stderr
        )  # always our own argv list
    return stdout
