"""What a harness raises when the code under test broke an invariant (any other unexpected exception is
a crash too, by escaping)."""

from __future__ import annotations


class Crash(AssertionError):
    """An invariant the target must keep did not hold for this input."""
