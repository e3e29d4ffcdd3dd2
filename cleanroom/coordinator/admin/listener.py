"""The serving coordinator's admin socket: ``DIR/admin.sock``, 0600 in the 0700 data dir.

One request per connection, read within ``REQUEST_SECONDS`` and at most ``MAX_REQUEST_BYTES``; the
peer's uid (SO_PEERCRED) must be the coordinator's own or root, checked before a byte is read. A few
connections are served at once; more are told the coordinator is busy. Requests run the same
operations as a stopped coordinator's command line (``operations.run``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import threading
from typing import Any

from cleanroom.coordinator.admin.address import socket_address
from cleanroom.coordinator.admin.context import SOCKET, AdminContext, Serving
from cleanroom.coordinator.admin.operations import run
from cleanroom.coordinator.admin.peercred import check_peer, peer_of
from cleanroom.coordinator.admin.protocol import (
    MAX_ANSWER_BYTES,
    MAX_REQUEST_BYTES,
    SOCKET_NAME,
    encode,
    parse_request,
    read_message,
)
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.enrolment import Enrolment
from cleanroom.coordinator.limits import denial_details
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.web.auth import ApiKeys
from cleanroom.errors import CleanroomError, PermissionDenied, ProtocolError, RequestError

REQUEST_SECONDS = 10.0
MAX_CONCURRENT = 4
log = logging.getLogger("cleanroom.coordinator.admin")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


class AdminListener:
    def __init__(self, store: Store, data_dir: DataDir, serving: Serving, enrolment: Enrolment | None = None) -> None:
        self.enrolment = enrolment
        self.store, self.data_dir, self.serving = store, data_dir, serving
        self.path = data_dir.path / SOCKET_NAME
        self.keys = ApiKeys(store)
        self.uid = os.getuid()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._accept, name="admin-socket", daemon=True)

    def start(self) -> AdminListener:
        os.chmod(self.data_dir.path, 0o700)  # the socket's directory: the operator's alone, as init made it
        self._remove_stale()
        with socket_address(self.path) as address:
            self._sock.bind(address)
        os.chmod(self.path, 0o600)
        self._sock.listen(16)
        self._thread.start()
        return self

    def _remove_stale(self) -> None:
        """A socket file left by a coordinator killed before it could remove it. This process holds the
        store's lock, so no other coordinator serves this data dir: the file is stale."""
        try:
            found = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(found.st_mode):
            raise CleanroomError(f"{self.path} exists and is not a socket: move it away so the admin socket can be made")
        self.path.unlink()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._sock.close()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed by stop()
            if not self._slots.acquire(blocking=False):
                with conn:
                    conn.settimeout(1.0)
                    self._send(conn, _error("RESOURCE_EXHAUSTED", "the coordinator is busy with other admin requests: retry"))
                continue
            threading.Thread(target=self._serve, args=(conn,), name="admin-request", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(REQUEST_SECONDS)
                self._send(conn, self._answer(conn))
        finally:
            self._slots.release()

    def _answer(self, conn: socket.socket) -> dict[str, Any]:
        try:
            peer = peer_of(conn)
        except OSError as exc:
            return _error("UNAUTHENTICATED", f"the peer's credentials cannot be read: {exc}")
        try:
            check_peer(peer, self.uid)
        except PermissionDenied as exc:
            details = {**denial_details("admin socket", exc.code, str(exc)), "uid": peer.uid, "pid": peer.pid}
            self.store.audit_now("unknown", "request.denied", None, details)
            return _error(exc.code, str(exc))
        try:
            op, params = parse_request(read_message(conn, MAX_REQUEST_BYTES))
            ctx = AdminContext(self.store, self.data_dir, self.keys, SOCKET, peer.uid, self.serving, self.enrolment)
            return {"ok": True, "result": run(ctx, op, params)}
        except TimeoutError:
            return _error("DEADLINE_EXCEEDED", f"no whole admin request within {REQUEST_SECONDS:g} s")
        except RequestError as exc:
            return _error(exc.code, str(exc))
        except ProtocolError as exc:  # the request ended early
            return _error("INVALID_ARGUMENT", str(exc))
        except (CleanroomError, OSError) as exc:
            return _error("FAILED_PRECONDITION", str(exc))
        except Exception:
            log.exception("admin request failed")
            return _error("INTERNAL", "the admin request failed inside the coordinator: see its log")

    @staticmethod
    def _send(conn: socket.socket, answer: dict[str, Any]) -> None:
        data = encode(answer)
        if len(data) - 4 > MAX_ANSWER_BYTES:
            data = encode(_error("RESOURCE_EXHAUSTED", f"the answer exceeds {MAX_ANSWER_BYTES:,} bytes"))
        with contextlib.suppress(OSError):  # the caller went away: nothing to tell it
            conn.sendall(data)


def start_admin(store: Store, data_dir: DataDir, listen: dict[str, str], enrolment: Enrolment | None = None) -> AdminListener:
    """Serve admin requests on ``DIR/admin.sock`` until ``stop()`` (``enrolment``: the server's own)."""
    return AdminListener(store, data_dir, Serving(listen), enrolment).start()
