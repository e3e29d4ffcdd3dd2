"""Stopping the agent on SIGTERM or SIGINT at a safe point.

The first signal asks the agent to stop: the step in progress (an upload, a re-blinding, a release
being received) runs to its end, then the agent logs its last line and exits 0. Nothing is left
half-sent that way; and even an upload cut short is only ever an uncommitted session, which the
coordinator does not count and the next start resumes (protocol/upload.py). A second signal
abandons the step at once (KeyboardInterrupt), for an operator who cannot wait.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopFlag:
    """Set by the first stop signal; ``wait`` sleeps until then (or the timeout)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name = ""

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, signal_name: str = "") -> None:
        self.signal_name = self.signal_name or signal_name
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when asked to stop (then at once)."""
        return self._event.wait(max(0.0, seconds))


@contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """While the body runs (on the main thread), SIGTERM and SIGINT set ``flag``; a second one interrupts."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
