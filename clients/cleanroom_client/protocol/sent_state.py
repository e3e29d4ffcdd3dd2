"""What we last sent under a continuous agreement: each account's identity, label and populations.

Kept in the profile (0600) so that the next ``map`` sends only the change. Two files per agreement:
``<id>.sent`` is what stands at the coordinator (the run it completed in); ``<id>.pending`` is what
an upload of ours proposes to make stand, written once the coordinator committed it and made current
when its run completes. A crash anywhere leaves either file as it was or wholly replaced (temp file +
rename), never half-written. Identities are 16-byte digests of an account's match keys: local to
this machine, never sent.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cleanroom.crypto.keyfiles import write_private
from cleanroom_client.inputs.account_ids import IDENTITY_VERSION
from cleanroom_client.profile import Profile

STATE_DIR = "continuous"
_UNREADABLE = (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile)
FORMAT = 2  # 2 names the identity function; format 1's identities were BLAKE2b digests
_FORMAT_1_IDENTITY = "blake2b/1"


@dataclass(frozen=True)
class SentState:
    """Our accounts as they stand (or will) at the coordinator under one agreement."""

    agreement_id: str
    run_id: str  # the run whose completion made (or will make) this stand
    terms_hash: str
    secret_tag: str
    normaliser_version: str
    next_label: int  # the label the next added account gets (labels are never reused)
    ids: np.ndarray  # S16, sorted
    labels: np.ndarray  # uint32, aligned with ids
    masks: np.ndarray  # uint16, aligned with ids
    # Under DP, the accounts that left the agreement's stream (S16, sorted): they are not sent again.
    left: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="S16"))
    upload_id: str = ""  # our upload that proposed this state (pending) or made it stand
    identity: str = IDENTITY_VERSION  # the function that made ``ids`` (inputs/account_ids.py)

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.labels) == len(self.masks)):
            raise ValueError("ids, labels and masks must be aligned")

    @property
    def accounts(self) -> int:
        return len(self.ids)

    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "agreement_id": self.agreement_id,
            "run_id": self.run_id,
            "terms_hash": self.terms_hash,
            "secret_tag": self.secret_tag,
            "normaliser_version": self.normaliser_version,
            "next_label": self.next_label,
            "upload_id": self.upload_id,
            "identity": self.identity,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            ids=self.ids,
            labels=self.labels,
            masks=self.masks,
            left=self.left,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentState:
        with np.load(io.BytesIO(data), allow_pickle=False) as found:
            meta = json.loads(found["meta"].tobytes())
            if meta.get("format") not in (1, FORMAT):
                raise ValueError(f"state format {meta.get('format')!r}, not {FORMAT}")
            return cls(
                agreement_id=meta["agreement_id"],
                run_id=meta["run_id"],
                terms_hash=meta["terms_hash"],
                secret_tag=meta["secret_tag"],
                normaliser_version=meta["normaliser_version"],
                next_label=int(meta["next_label"]),
                upload_id=str(meta.get("upload_id", "")),
                identity=str(meta.get("identity", _FORMAT_1_IDENTITY)),
                ids=found["ids"].astype("S16"),
                labels=found["labels"].astype(np.uint32),
                masks=found["masks"].astype(np.uint16),
                left=found["left"].astype("S16") if "left" in found.files else np.zeros(0, dtype="S16"),
            )


def _sound(path: Path) -> bool:
    """Whether every member of a state file (an .npz: a zip) reads back with its CRC-32."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except _UNREADABLE:
        return False


class SentStates:
    """The profile's sent and pending states, one pair of files per agreement."""

    def __init__(self, profile: Profile) -> None:
        self.dir = profile.path / STATE_DIR

    def _path(self, agreement_id: str, kind: str) -> Path:
        if not agreement_id.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"not an agreement id: {agreement_id!r}")
        return self.dir / f"{agreement_id}.{kind}"

    def _read(self, agreement_id: str, kind: str) -> SentState | None:
        path = self._path(agreement_id, kind)
        try:
            return SentState.from_bytes(path.read_bytes())
        except _UNREADABLE:  # none, or unreadable (a disk that lost it, a newer format): the next run sends everything
            return None

    def _upload_id(self, agreement_id: str, kind: str) -> str | None:
        """The upload a state file names, read from its header alone (a million accounts' arrays are not)."""
        try:
            with np.load(self._path(agreement_id, kind), allow_pickle=False) as found:
                return str(json.loads(found["meta"].tobytes()).get("upload_id", ""))
        except _UNREADABLE:  # none (FileNotFoundError is an OSError), or unreadable
            return None

    @contextmanager
    def _locked(self, agreement_id: str) -> Iterator[None]:
        """The agreement's states to ourselves: the agent and a manual map of one profile may both write them."""
        self.dir.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self._path(agreement_id, "lock"), os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # and the lock with it

    def _write(self, state: SentState, kind: str) -> None:
        path = self._path(state.agreement_id, kind)
        tmp = path.with_name(path.name + ".tmp")
        write_private(tmp, state.to_bytes())
        os.replace(tmp, path)

    def sent(self, agreement_id: str) -> SentState | None:
        return self._read(agreement_id, "sent")

    def pending(self, agreement_id: str) -> SentState | None:
        return self._read(agreement_id, "pending")

    def propose(self, state: SentState) -> None:
        """Our upload ``state.upload_id`` of ``state`` was committed to run ``state.run_id``: it stands once that
        run completes with that upload (another process of this profile may have replaced it meanwhile)."""
        with self._locked(state.agreement_id):
            self._write(state, "pending")

    def promote(self, agreement_id: str, standing_upload_id: str) -> None:
        """Make the pending state current if the coordinator now stands on exactly the upload that proposed it.
        The pending file becomes the sent one by a rename, once its checksums hold (a damaged one must not
        replace a sound sent state); its arrays are not parsed."""
        if not standing_upload_id or not self._path(agreement_id, "pending").exists():
            return
        with self._locked(agreement_id):
            pending = self._path(agreement_id, "pending")
            if self._upload_id(agreement_id, "pending") == standing_upload_id and _sound(pending):
                os.replace(pending, self._path(agreement_id, "sent"))

    def settle(self, agreement_id: str, standing_run_id: str, standing_upload_id: str) -> SentState | None:
        """``promote``, then the current state."""
        del standing_run_id  # named by the status beside the upload; the upload alone decides
        self.promote(agreement_id, standing_upload_id)
        return self.sent(agreement_id)

    def forget(self, agreement_id: str) -> None:
        for kind in ("sent", "pending"):
            self._path(agreement_id, kind).unlink(missing_ok=True)
