"""Exponential backoff with full jitter, for retrying a coordinator that is down or unreachable.

"Full jitter": each delay is drawn uniformly from [0, min(cap, base * 2**attempt)], so many
clients that lost the same coordinator do not come back in lockstep when it restarts, and the
expected wait still doubles per failure until the cap. A success resets the count.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 1.0  # seconds: the ceiling of the first delay
    cap: float = 300.0  # seconds: no delay is ever longer
    uniform: Callable[[float, float], float] = field(default=random.uniform, repr=False)
    failures: int = 0  # consecutive failures so far

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"backoff needs 0 < base <= cap (got base {self.base}, cap {self.cap})")

    def ceiling(self) -> float:
        """The largest delay the next failure may draw."""
        # 2**failures overflows a float after ~1000 failures: stop doubling once past the cap.
        exponent = min(self.failures, 64)
        return min(self.cap, self.base * 2.0**exponent)

    def next_delay(self) -> float:
        """Count one more failure and draw the delay to wait before trying again."""
        delay = self.uniform(0.0, self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        """After a success: the next failure starts from ``base`` again."""
        self.failures = 0
