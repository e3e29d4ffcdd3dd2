"""Continuous agreements played in-process: two parties as their clients would be, each epoch a complete run.

Shared by tests/unit/test_standing.py (and the modules that build on it) and tests/e2e/test_e2e_standing_attack.py.
Ground truth is counted from the parties' dicts (domain -> mask), never by the coordinator's code.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

from cleanroom.coordinator.store.records import OWN, REBLINDED, UploadChanges
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom_client.protocol.prepare import hash_context  # the client's own context, never retyped
from tests.inprocess import agree, coordinator

EPOCH = 1
_SKIPPED = [0.0]  # seconds the epoch rule's clock is ahead of the real one


def next_epoch() -> None:
    _SKIPPED[0] += EPOCH


@dataclass
class Party:
    """A party as its client would be: what stands at the coordinator, and what it has now."""

    name: str
    secret: bytes = field(default_factory=new_secret)
    labels: dict[str, int] = field(default_factory=dict)  # domain -> label, as standing
    masks: dict[str, int] = field(default_factory=dict)  # domain -> mask, as standing
    next_label: int = 0
    base: str = ""  # the run our side stands on ("" : send everything)

    @property
    def tag(self) -> str:
        return (self.secret.hex() * 2)[:64]  # any 64-hex tag that changes with the secret


def _begin_commit(coord, party: str, agreement: dict, kind: str, points: bytes, labels: bytes, masks: bytes, **kw) -> dict:
    n = len(points) // 32
    digests = [chunk_digest(points, labels, masks)] if n else []
    session = coord.begin_upload(
        party,
        agreement["agreement_id"],
        agreement["terms_hash"],
        kind,
        kw.get("run_id", ""),
        n,
        1 if n else 0,
        kw.get("n_accounts", 0),
        upload_digest(digests),
        kw.get("of_upload", ""),
        "overlap",
        changes=kw.get("changes"),
    )
    if n:
        coord.put_chunk(party, session["upload_id"], 0, points, labels, masks, digests[0], b"")
    return coord.commit_upload(party, session["upload_id"])


def send(coord, agreement: dict, me: Party, now: dict[str, int], full: bool = False, **override) -> dict:
    """Our own upload: the change from what stands to ``now`` (or everything); returns the receipt."""
    context = hash_context(agreement["agreement_id"], "domain")
    if full or not me.base:
        added, removed, moved = sorted(now), [], []
        me.labels, me.next_label = {}, 0
    else:
        added = sorted(d for d in now if d not in me.labels)
        removed = sorted(me.labels[d] for d in me.labels if d not in now)
        moved = sorted((me.labels[d], now[d]) for d in now if d in me.labels and now[d] != me.masks[d])
    new_labels = list(range(me.next_label, me.next_label + len(added)))
    points = blind(me.secret, hash_to_points(added, context), workers=1) if added else b""
    changes = UploadChanges(
        "" if full or not me.base else me.base,
        me.tag,
        struct.pack(f"<{len(removed)}I", *removed),
        struct.pack(f"<{len(moved)}I", *[label for label, _ in moved]),
        struct.pack(f"<{len(moved)}H", *[mask for _, mask in moved]),
    )
    receipt = _begin_commit(
        coord,
        me.name,
        agreement,
        OWN,
        points,
        struct.pack(f"<{len(added)}I", *override.get("labels", new_labels)),
        struct.pack(f"<{len(added)}H", *[now[d] for d in added]),
        n_accounts=override.get("n_accounts", len(now)),
        changes=override.get("changes", changes),
    )
    standing = {d: me.labels[d] for d in me.labels if d in now}
    me.labels = {**standing, **dict(zip(added, new_labels, strict=True))}
    me.masks, me.next_label = dict(now), me.next_label + len(added)
    return receipt


def reblind(coord, agreement: dict, me: Party, run_id: str) -> None:
    status = coord.status(me.name, agreement["agreement_id"], run_id)
    assert status["reblind_needed"], status
    chunks = list(coord.peer_chunks(me.name, run_id))
    points = b"".join(blind(me.secret, c["points"], workers=1) for c in chunks)
    _begin_commit(coord, me.name, agreement, REBLINDED, points, b"", b"", run_id=run_id, of_upload=status["peer_upload_id"])


def epoch(coord, agreement: dict, parties: tuple[Party, Party], sets: tuple[dict, dict], wait: bool = True) -> str:
    """One run: both send, both re-blind; returns the run id, with each party's base moved on."""
    if wait:
        next_epoch()
    run_id = send(coord, agreement, parties[0], sets[0])["run_id"]
    send(coord, agreement, parties[1], sets[1])
    for p in parties:
        reblind(coord, agreement, p, run_id)
    assert coord.status("vendor", agreement["agreement_id"], run_id)["state"] == "complete", coord.status(
        "vendor", agreement["agreement_id"], run_id
    )
    for p in parties:
        p.base = run_id
    return run_id


def truth(vendor: dict[str, int], partner: dict[str, int], pops: int = 2) -> dict:
    shared = vendor.keys() & partner.keys()
    matrix = [[sum(1 for d in shared if vendor[d] >> i & 1 and partner[d] >> j & 1) for j in range(pops)] for i in range(pops)]
    return {"accounts": {"vendor": len(vendor), "partner": len(partner)}, "overlap": len(shared), "matrix": matrix}


def result(coord, run_id: str) -> dict:
    body = json.loads(coord.store.runs.result_json(run_id))
    return {k: body[k] for k in ("accounts", "overlap", "matrix")}


def _continuous(coord, **options) -> dict:
    return agree(coord, ("customer", "prospect"), epoch_seconds=EPOCH, min_set_size=1, min_count=1, **options)


def _world(tmp_path, **options):
    coord, _ = coordinator(tmp_path)
    return coord, _continuous(coord, **options), (Party("vendor"), Party("partner"))
