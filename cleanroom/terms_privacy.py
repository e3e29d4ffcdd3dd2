"""Terms for what repeated releases may disclose: differential privacy, and continuous agreements' epochs.

A continuous agreement (cleanroom.coordinator.standing) releases at most once per epoch, from a second
(tests, benchmarks) to a year. Under DP its releases go through the continual tree counter
(cleanroom.coordinator.continual): ``epsilon`` is then the loss of the whole stream of ``horizon``
releases, not of each one.
"""

from __future__ import annotations

from typing import Any

from cleanroom.errors import InvalidArgument
from cleanroom.terms_checks import int_field, require

MIN_EPOCH_SECONDS, MAX_EPOCH_SECONDS = 1, 366 * 86400
DEFAULT_EPOCH_SECONDS = 86400
DEFAULT_DP_HORIZON = 365
MAX_DP_HORIZON = 100_000


def privacy_and_schedule(
    dp_epsilon: float | None, dp_budget: float | None, epoch_seconds: int | None, dp_horizon: int | None
) -> dict[str, Any]:
    """The ``dp`` and ``continuous`` entries of terms a proposer offers (none when neither is asked for)."""
    entries: dict[str, Any] = {}
    if dp_epsilon is not None or dp_budget is not None:
        entries["dp"] = {"epsilon": dp_epsilon, "budget": dp_budget if dp_budget is not None else dp_epsilon}
        if epoch_seconds is not None:
            entries["dp"]["horizon"] = dp_horizon or DEFAULT_DP_HORIZON
    if dp_horizon is not None and not (entries.get("dp") and epoch_seconds is not None):
        raise InvalidArgument("terms: a DP horizon needs differential privacy (--dp-epsilon) on a continuous agreement")
    if epoch_seconds is not None:
        entries["continuous"] = {"epoch_seconds": epoch_seconds}
    return entries


def parse_dp(raw: dict[str, Any], release: dict[str, dict[str, Any]]) -> tuple[float | None, float | None]:
    dp_epsilon = dp_budget = None
    if "dp" in raw:
        dp = raw["dp"]
        require(isinstance(dp, dict), "dp must be an object with epsilon and budget")
        dp_epsilon, dp_budget = dp.get("epsilon"), dp.get("budget")
        for name, value in (("epsilon", dp_epsilon), ("budget", dp_budget)):
            require(
                isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 100,
                f"dp {name} must be a number in (0, 100]",
            )
        require(dp_budget >= dp_epsilon, "dp budget must allow at least one release (budget >= epsilon)")
        require(
            not any(g.get("reveal") for g in release.values()),
            "account-level reveal cannot be combined with differential privacy: revealed accounts disclose the exact overlap",
        )
    return dp_epsilon, dp_budget


def parse_continuous(raw: dict[str, Any], release: dict[str, dict[str, Any]]) -> tuple[int | None, int | None]:
    """(epoch seconds, DP horizon) of a continuous agreement; (None, None) for one-off runs."""
    dp = raw.get("dp")
    if "continuous" not in raw:
        require(not (isinstance(dp, dict) and "horizon" in dp), "dp horizon applies only to a continuous agreement")
        return None, None
    cont = raw["continuous"]
    require(isinstance(cont, dict) and set(cont) == {"epoch_seconds"}, "continuous must be an object with epoch_seconds")
    epoch = int_field(cont, "epoch_seconds", MIN_EPOCH_SECONDS)
    require(epoch <= MAX_EPOCH_SECONDS, f"continuous epoch_seconds must be at most {MAX_EPOCH_SECONDS} (a year)")
    # Sealed fields travel with each run's uploads: a run that sends only the change has none for the
    # accounts it does not resend, so reveal stays with one-off agreements for now.
    require(
        not any(g.get("reveal") for g in release.values()),
        "account-level reveal is not available on a continuous agreement; propose a one-off agreement for reveal",
    )
    horizon = None
    if isinstance(dp, dict):
        horizon = int_field(dp, "horizon", 1)
        require(horizon <= MAX_DP_HORIZON, f"dp horizon must be at most {MAX_DP_HORIZON:,} releases")
    return epoch, horizon
