"""Who is at the other end of a Unix socket (SO_PEERCRED), and whether they may administer.

The socket file is 0600 in a 0700 directory, which already keeps other users out; the kernel's record
of the peer's uid is checked as well, so a socket reached some other way (a descriptor passed on, a
directory made wider by hand) still answers only its owner and root.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from cleanroom.errors import PermissionDenied

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int


def peer_of(sock: socket.socket) -> Peer:
    """The process, user and group that connected ``sock`` (as the kernel recorded them at connect)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid, uid, gid)


def check_peer(peer: Peer, server_uid: int) -> Peer:
    """The peer, if it runs as the coordinator's own user or as root; PermissionDenied otherwise."""
    if peer.uid not in (server_uid, 0):
        raise PermissionDenied(
            f"uid {peer.uid} may not administer this coordinator: only its own user (uid {server_uid}) or root may"
        )
    return peer
