"""POSTing one signed alert to one receiver, with retries and a bounded time; never raises.

A 2xx is delivered. A 5xx, 408, 429, a timeout or a connection error is retried with
exponential backoff, the signature (with a fresh timestamp) made anew for each attempt;
after the last attempt the delivery is ``pending`` (kept, tried again next time). Any
other answer (4xx: the receiver refuses it, e.g. a wrong secret) is ``rejected`` and not
retried: sending the same bytes again would be refused again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from cleanroom_client.features.alert_signing import headers

RETRYABLE = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # per delivery, per dispatch
    timeout: float = 5.0  # seconds for one attempt (connect, send, answer)
    backoff: float = 0.5  # seconds before the second attempt; doubles after each
    budget: float = 30.0  # seconds for all deliveries of one dispatch: mapping never waits longer


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class Outcome:
    status: str  # "delivered" | "pending" | "rejected"
    attempts: int
    http_status: int | None
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "attempts": self.attempts, "http_status": self.http_status, "error": self.error}


def deliver(
    client: httpx.Client,
    receiver: dict[str, Any],
    delivery_id: str,
    body: bytes,
    deadline: float,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POST ``body`` to the receiver until it is accepted, the attempts are spent or ``deadline`` (monotonic) passes."""
    http_status: int | None = None
    error = "not attempted: the time for alerts ran out"
    attempts = 0
    for attempt in range(1, policy.attempts + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            break
        attempts = attempt
        signed = headers(receiver["secret"], delivery_id, int(time.time()), body)
        try:
            response = client.post(receiver["url"], content=body, headers=signed, timeout=min(policy.timeout, remaining))
            http_status = response.status_code
            if 200 <= http_status < 300:
                return Outcome("delivered", attempt, http_status, "")
            error = f"HTTP {http_status}"
            if http_status < 500 and http_status not in RETRYABLE:
                return Outcome("rejected", attempt, http_status, error)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: an alerts.json edited by hand
            http_status, error = None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        pause = policy.backoff * 2 ** (attempt - 1)
        if attempt < policy.attempts and deadline - time.monotonic() > pause:
            sleep(pause)
    return Outcome("pending", attempts, http_status, error)
