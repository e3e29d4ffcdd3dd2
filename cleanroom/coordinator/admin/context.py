"""What an admin operation runs against: the store and data dir, and how it was reached."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.enrolment import Enrolment
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.web.auth import ApiKeys

SOCKET = "admin socket"
STORE_FILE = "store file"


def cleanroom_version() -> str:
    try:
        return version("cleanroom")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


@dataclass(frozen=True)
class Serving:
    """A serving coordinator's side of ``status``: when it started and where it listens."""

    listen: dict[str, str]
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    started: float = field(default_factory=time.monotonic)

    def uptime_seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


@dataclass(frozen=True)
class AdminContext:
    """One admin request's world. ``channel`` and ``uid`` say how the caller came (audited with writes);
    ``serving`` is None on a stopped coordinator's store file."""

    store: Store
    data_dir: DataDir
    keys: ApiKeys
    channel: str
    uid: int
    serving: Serving | None = None
    # A serving coordinator's own enrolment (its gRPC interceptor holds the revoked certificates in memory:
    # a removal must go through it to be refused at once); None on a stopped coordinator's store file.
    served_enrolment: Enrolment | None = None

    def enrolment(self) -> Enrolment:
        return self.served_enrolment or Enrolment(self.store, self.data_dir)

    @property
    def actor(self) -> str:
        return "operator"  # as every admin entry before the socket: details say how and who

    def via(self) -> dict[str, Any]:
        return {"channel": self.channel, "uid": self.uid}
