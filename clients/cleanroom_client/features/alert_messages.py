"""A change set as the bytes an alert receiver gets: our JSON object, or Slack-compatible ``{"text": ...}``."""

from __future__ import annotations

import json
from typing import Any

from cleanroom_client.features.alerts_diff import AccountEvent, ChangeSet

FORMATS = ("json", "slack")
EVENT_TYPE = "cleanroom.release.changed"


def _join(populations: tuple[str, ...]) -> str:
    return " and ".join(populations) or "-"


def event_text(event: AccountEvent, partner: str) -> str:
    """One account event as a sentence ("Acme Corp, your opportunity, is now partner-b's customer")."""
    who = f"{event.account}, your {_join(event.our_populations)},"
    if event.event == "newly_revealed":
        return f"{who} is now {partner}'s {_join(event.after)}"
    if event.event == "no_longer_revealed":
        return f"{who} is no longer shown as {partner}'s {_join(event.before)}"
    return f"{who} is now {partner}'s {_join(event.after)} (was {_join(event.before)})"


def lines(changes: ChangeSet) -> list[str]:
    """The change set for people, one change a line: cells, then totals, then accounts."""
    out = [f"{c.name}: {c.before} -> {c.after}" for c in changes.cells]
    out += [f"total {c.name}: {c.before} -> {c.after}" for c in changes.totals]
    out += [event_text(e, changes.partner) for e in changes.accounts]
    return out


def payload(changes: ChangeSet, delivery_id: str) -> dict[str, Any]:
    """The JSON alert: every change as data, and the same as text lines."""
    return {
        "type": EVENT_TYPE,
        "delivery_id": delivery_id,
        "agreement_id": changes.agreement_id,
        "partner": changes.partner,
        "previous_run_id": changes.previous_run_id,
        "run_id": changes.run_id,
        "cells": [c.to_dict() for c in changes.cells],
        "totals": [c.to_dict() for c in changes.totals],
        "accounts": [dict(e.to_dict(), text=event_text(e, changes.partner)) for e in changes.accounts],
        "text": lines(changes),
    }


def body(changes: ChangeSet, delivery_id: str, fmt: str) -> bytes:
    """The exact bytes POSTed (and signed) for a receiver of format ``fmt``."""
    if fmt == "slack":
        head = f"Cleanroom: the overlap with {changes.partner} changed (agreement {changes.agreement_id}, run {changes.run_id})"
        text = "\n".join([head, *(f"• {line}" for line in lines(changes))])
        return json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
    return json.dumps(payload(changes, delivery_id), ensure_ascii=False, sort_keys=True).encode("utf-8")
