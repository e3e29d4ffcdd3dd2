"""A real Ray cluster on loopback for the tests and benchmarks: a head and further nodes, one ``ray start --block``
process each, torn down by their process ids (never ``ray stop``, which would stop every Ray on the machine).

Every port Ray would otherwise take at a fixed default (GCS, Ray Client, dashboard agent) is one the kernel
just gave us, so clusters of parallel tests do not clash; the temporary directory is short because Ray's
Unix socket paths must fit in 107 bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE_BYTES = 200 * 1024 * 1024  # Ray is memory-hungry: keep test clusters small


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RayCluster:
    """Nodes of ``cpus`` CPUs each (the first is the head), all on 127.0.0.1."""

    cpus: tuple[int, ...] = (1, 1)
    port: int = field(default_factory=free_port)
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="crray", dir="/tmp")))
    nodes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _node(self, cpus: int, head: bool) -> subprocess.Popen:
        common = [
            "--block",
            "--num-cpus",
            str(cpus),
            "--node-ip-address",
            "127.0.0.1",
            "--object-store-memory",
            str(OBJECT_STORE_BYTES),
            "--dashboard-agent-listen-port",
            str(free_port()),
            "--disable-usage-stats",
        ]
        head_only = ["--head", "--port", str(self.port), "--temp-dir", str(self.temp_dir), "--include-dashboard", "false"]
        head_only += ["--ray-client-server-port", str(free_port()), "--dashboard-port", str(free_port())]
        where = head_only if head else ["--address", self.address]
        log = open(self.temp_dir / f"node{len(self.nodes)}.log", "wb")  # noqa: SIM115 (the node's lifetime)
        # A session of its own: teardown can end the node's whole process group, all of it ours.
        return subprocess.Popen([RAY, "start", *where, *common], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, timeout: float = 120.0) -> RayCluster:
        try:
            for i, cpus in enumerate(self.cpus):
                self.nodes.append(self._node(cpus, head=i == 0))
                self._wait_for_cpus(sum(self.cpus[: i + 1]), timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_cpus(self, cpus: int, timeout: float) -> None:
        """Until the cluster reports ``cpus`` CPUs (each node has joined); a node that exits fails at once."""
        deadline = time.monotonic() + timeout
        probe = [RAY, "status", "--address", self.address]
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.poll() is not None:
                    raise RuntimeError(f"a Ray node exited {node.returncode}: {self.log_tail()}")
            status = subprocess.run(probe, capture_output=True, text=True, timeout=60)
            if status.returncode == 0 and f"/{cpus}.0 CPU" in status.stdout:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster did not reach {cpus} CPUs in {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self) -> str:
        return " | ".join(p.read_text(errors="replace")[-800:] for p in sorted(self.temp_dir.glob("node*.log")))

    def _processes(self) -> list[tuple[int, str]]:
        """(pid, command line) of every process of this cluster: each node's ``ray start`` is a session leader,
        and Ray's workers, though in process groups of their own, stay in their node's session."""
        sessions = {n.pid for n in self.nodes}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getsid(int(entry.name)) in sessions:
                    found.append(
                        (int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                    )
            except OSError:  # gone meanwhile
                continue
        return found

    def worker_pids(self, *titles: str) -> list[int]:
        """Ids of this cluster's worker processes running a task named one of ``titles`` (their process title)."""
        return [pid for pid, cmdline in self._processes() if any(cmdline.startswith(f"ray::{t}") for t in titles)]

    def stop(self) -> None:
        """SIGTERM each node (``ray start --block`` then stops what it started), then SIGKILL whatever of its
        session is left (workers included): every process ended is one this cluster started."""
        for node in self.nodes:
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        for node in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.wait(timeout=30)
        for pid, _ in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for node in self.nodes:
            node.wait()
        self.nodes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
