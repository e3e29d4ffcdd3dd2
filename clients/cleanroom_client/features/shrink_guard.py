"""The agent's guard against a broken export: refuse one that lost too many accounts since the last one mapped.

A CRM export job that fails half-way, or writes only a header, would otherwise tell every partner
that we lost most of our accounts (and, with incremental runs, remove them). Pure: the counts in,
the reason to refuse (or None) out.
"""

from __future__ import annotations

DEFAULT_MAX_SHRINK = 0.2


def shrink_refusal(path: str, previous: int | None, current: int, max_shrink: float = DEFAULT_MAX_SHRINK) -> str | None:
    """Why the export at ``path`` must not be mapped, or None. ``previous``: the accounts of the last export
    mapped (None before the first); refused when more than ``max_shrink`` of them are gone."""
    if previous is None or previous <= 0 or current >= previous:
        return None
    lost = previous - current
    if lost / previous <= max_shrink:
        return None
    if current == 0:
        return (
            f"{path}: no accounts at all (an empty export, or a header only), where the last export mapped had "
            f"{previous:,}; not mapped. If every account really is gone, run the agent with --allow-shrink."
        )
    return (
        f"{path}: {current:,} accounts, {lost:,} fewer than the {previous:,} of the last export mapped "
        f"({lost / previous:.0%} gone, more than --max-shrink {max_shrink:g}); not mapped. "
        "If the accounts really are gone, run the agent with --allow-shrink (or raise --max-shrink)."
    )
