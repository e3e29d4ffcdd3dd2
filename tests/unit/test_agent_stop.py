"""Stopping the agent: the first SIGTERM/SIGINT sets the flag (and wakes a sleeping wait), a second interrupts,
and the handlers that were there before are put back."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from cleanroom_client.features.agent_stop import StopFlag, stop_on_signals


def test_the_first_signal_asks_to_stop_and_the_second_interrupts():
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(StopFlag()) as flag:
        assert not flag.is_set()
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to this (the main) thread before kill returns
        assert flag.is_set() and flag.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert flag.signal_name == "SIGTERM"  # the first one is the one reported
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_wakes_the_wait_between_cycles():
    with stop_on_signals(StopFlag()) as flag:
        # Sent from another thread once the main thread sleeps in wait(); without the wake-up it sleeps the full 30 s and fails.
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        assert flag.wait(30) is True
        assert flag.signal_name == "SIGINT"


def test_wait_times_out_when_nobody_asks():
    flag = StopFlag()
    assert flag.wait(0) is False and flag.wait(-1) is False
