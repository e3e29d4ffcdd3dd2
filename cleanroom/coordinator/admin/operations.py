"""The registry of named admin operations: one implementation each, over a coordinator's store.

The admin socket (``listener``) and the stopped-coordinator path (``dispatch``) both call ``run``, so
an operation answers the same whichever way it was reached. To add one: a function here under
``@operation("name")``, and a command that calls ``dispatch.call(data_dir, "name", {...})`` and prints the
answer. Parameters are JSON values; an answer is a JSON object. Audit writes as the operation's own
code does (``ctx.actor`` is "operator"; ``ctx.via()`` says channel and uid).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cleanroom.coordinator.admin.backup import write_backup
from cleanroom.coordinator.admin.context import AdminContext, cleanroom_version
from cleanroom.coordinator.admin.params import Params
from cleanroom.coordinator.store.stats import store_stats
from cleanroom.coordinator.web.auth import valid_role
from cleanroom.errors import InvalidArgument, NotFound
from cleanroom.terminal.durations import parse_duration

Operation = Callable[[AdminContext, Params], dict[str, Any]]
OPERATIONS: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(func: Operation) -> Operation:
        if name in OPERATIONS:
            raise ValueError(f"admin operation {name!r} registered twice")
        OPERATIONS[name] = func
        return func

    return register


def run(ctx: AdminContext, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Run the named operation; NotFound for a name nobody registered."""
    found = OPERATIONS.get(name)
    if found is None:
        raise NotFound(f"no admin operation {name!r}; known: {', '.join(sorted(OPERATIONS))}")
    return found(ctx, Params(name, values))


@operation("api-keys.add")
def _add_api_key(ctx: AdminContext, p: Params) -> dict[str, Any]:
    party, role, label = p.text("party", ""), valid_role(p.text("role")), p.text("label", "")
    p.done()
    if role != "admin" and not party:
        raise InvalidArgument(f"a {role} key acts for one party: give --party NAME")
    return ctx.keys.create(party, role, label, actor=ctx.actor)


@operation("api-keys.list")
def _list_api_keys(ctx: AdminContext, p: Params) -> dict[str, Any]:
    include_revoked = p.flag("all")
    p.done()
    return {"api_keys": ctx.keys.list(include_revoked=include_revoked)}


@operation("api-keys.revoke")
def _revoke_api_key(ctx: AdminContext, p: Params) -> dict[str, Any]:
    key_id = p.text("key_id")
    p.done()
    return ctx.keys.revoke(key_id, actor=ctx.actor)


@operation("status")
def _status(ctx: AdminContext, p: Params) -> dict[str, Any]:
    p.done()
    serving = ctx.serving
    return {
        "version": cleanroom_version(),
        "data_dir": str(ctx.data_dir.path.resolve()),
        "serving": serving is not None,
        "started_at": serving.started_at if serving else None,
        "uptime_seconds": serving.uptime_seconds() if serving else None,
        "listen": serving.listen if serving else {"grpc": str(ctx.data_dir.config()["listen"])},
        "parties": len(ctx.data_dir.issued()),
        **store_stats(ctx.store.db),
    }


@operation("backup")
def _backup(ctx: AdminContext, p: Params) -> dict[str, Any]:
    out = Path(p.text("out"))
    p.done()
    if not out.is_absolute():
        raise InvalidArgument(f"backup: out must be an absolute path (the coordinator's working directory is not yours): {out}")
    return write_backup(ctx, out)


@operation("invite")
def _invite(ctx: AdminContext, p: Params) -> dict[str, Any]:
    party, expires = p.text("party"), dt.timedelta(seconds=parse_duration(p.text("expires", "72h")))
    p.done()
    invitation = ctx.enrolment().invite(party, expires, actor=ctx.actor)
    config = ctx.data_dir.config()
    address = str(config.get("enroll_advertise") or ctx.data_dir.enroll_listen())
    command = (
        f"cleanroom-client enroll {address} --token {invitation.token} "
        f"--ca-fingerprint {invitation.ca_fingerprint} --profile ./{invitation.party}-profile"
    )
    return {**vars(invitation), "enroll_address": address, "command": command}


@operation("remove-party")
def _remove_party(ctx: AdminContext, p: Params) -> dict[str, Any]:
    party = p.text("party")
    p.done()
    return ctx.enrolment().remove_party(party, actor=ctx.actor)
