"""The agent's own small state in the profile (DIR/agent.json, 0600): what it last mapped, and when it last ran.

It is the shrink guard's baseline (the account count of the last export mapped) and what tells a
changed export from one already sent (its content digest). Written atomically (a temporary file in
the same directory, flushed, then renamed over the old one), so a crash or a SIGKILL mid-write leaves
the previous state, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cleanroom.errors import InputError

STATE_FILE = "agent.json"


@dataclass
class AgentState:
    export_path: str = ""  # the last export mapped
    export_digest: str = ""  # its content's SHA-256
    export_accounts: int | None = None  # its accounts (by domain key): the shrink guard's baseline
    mapped_at: str = ""
    mapped_agreements: list[str] = field(default_factory=list)  # the active agreements that took it
    last_cycle: dict[str, Any] = field(default_factory=dict)  # when the last cycle ended, and how

    @classmethod
    def load(cls, profile_dir: Path) -> AgentState:
        path = profile_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot be read ({exc}); move it aside to start the agent afresh") from None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, profile_dir: Path) -> None:
        write_atomic(profile_dir / STATE_FILE, json.dumps(asdict(self), indent=1, sort_keys=True).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once, readable by its owner only (0600 from the first byte)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)  # the rename itself survives a power cut


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some filesystems do not open directories; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
