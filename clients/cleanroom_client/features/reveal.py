"""Account-level reveal, client side: what to seal, our side of the join, what we are shown.

When the terms grant the PEER reveal on a pair (its population, ours), ``map``
seals the columns we share, for every account of ours in one of those
populations, to the peer's pinned X25519 key, and uploads the sealed bytes
beside our points: this module finds the shared columns and the peer's key,
protocol/sealing.py seals them (cleanroom/crypto/sealed.py). When the terms
grant US reveal, ``map`` keeps, in the profile (0600), the account label -> our
own row mapping of the run for our populations on granted pairs, so that
revealed labels can be joined back to our names, domains, stages and amounts
locally: the coordinator never learns them, and our file need not be read again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cleanroom.auditlog.heads import AuditHead
from cleanroom.crypto.keyfiles import write_private
from cleanroom.crypto.sealed import Opener, SealContext, SealError, reveal_digest
from cleanroom.crypto.signing import verify_json
from cleanroom.errors import CleanroomError, InputError, ProtocolError
from cleanroom.reveal import reveal_count_problems, single_key_problems
from cleanroom.terms import Terms, column_norm
from cleanroom_client.features.overlap_view import cells_list
from cleanroom_client.protocol.encryption import EncryptionKeys
from cleanroom_client.protocol.heads import verified_head
from cleanroom_client.protocol.pins import PeerPins
from cleanroom_client.remote import Agreement, RevealedAccount, RevealRelease

if TYPE_CHECKING:
    from cleanroom_client.inputs.accounts import LoadResult
    from cleanroom_client.profile import Profile
    from cleanroom_client.protocol.prepare import PreparedUpload
    from cleanroom_client.protocol.receipts import ReceiptLog
    from cleanroom_client.remote import Remote

REVEAL_DIR = "reveal"


class RevealError(CleanroomError):
    """A reveal that cannot be shown as it came: nothing of it is revealed."""


@dataclass(frozen=True)
class RevealPlan:
    """What the terms mean for this party's ``map``."""

    party: str
    peer: str
    share: tuple[str, ...]  # our shared columns, as the terms spell them
    seal_populations: tuple[str, ...]  # our populations whose accounts we seal the shared columns for
    view_populations: tuple[str, ...]  # our populations on which we are granted reveal

    @classmethod
    def of(cls, terms: Terms, party: str) -> RevealPlan:
        peer = terms.other(party)
        theirs_granted = {t for _, t in terms.reveal_granted(peer)}
        mine_granted = {m for m, _ in terms.reveal_granted(party)}
        share = terms.shared_columns(party)
        return cls(
            party=party,
            peer=peer,
            share=share,
            seal_populations=tuple(p for p in terms.populations[party] if p in theirs_granted) if share else (),
            view_populations=tuple(p for p in terms.populations[party] if p in mine_granted),
        )

    @property
    def seals(self) -> bool:
        return bool(self.seal_populations)

    @property
    def views(self) -> bool:
        return bool(self.view_populations)


def shared_headers(plan: RevealPlan, loaded: LoadResult, agreement_id: str) -> dict[str, str]:
    """Terms column -> the file's header for it; InputError naming the file and the column when one is missing."""
    found = {}
    for column in plan.share:
        matches = [h for h in loaded.columns.names if column_norm(h) == column_norm(column)]
        exact = [h for h in matches if h.strip() == column.strip()]
        if len(matches) > 1 and len(exact) != 1:  # two columns could be meant: share neither rather than guess
            raise InputError(
                f"{loaded.source}: the shared column {column!r} of agreement {agreement_id} could be any of "
                f"{', '.join(repr(m) for m in matches)}. Nothing was sent. Rename the columns so that one is "
                f"{column!r}, or remove the others from the export."
            )
        header = exact[0] if exact else (matches[0] if matches else None)
        if header is None:
            raise InputError(
                f"{loaded.source}: no column {column!r}, which the terms of agreement {agreement_id} say you share with "
                f"{plan.peer}; columns found: {', '.join(loaded.columns.names)}. Nothing was sent. Export the column, or "
                f"change what you share: cleanroom-client agreement approve {agreement_id} --share COL[,COL...]"
            )
        found[column] = header
    return found


def peer_public_key(profile: Profile, agreement: Agreement, plan: RevealPlan, expected_fingerprint: str | None = None) -> bytes:
    """The peer's key for this agreement, checked against our pin (pinned on first use)."""
    public = agreement.key_of(plan.peer)
    if public is None:
        raise ProtocolError(
            f"agreement {agreement.agreement_id} has no encryption key of {plan.peer}; it must approve the terms again"
        )
    PeerPins(profile.path).check(plan.peer, public, agreement.agreement_id, expected_fingerprint)
    return public


# -- our side of the join ---------------------------------------------------------------


def map_path(profile_dir: Path, agreement_id: str, run_id: str) -> Path:
    return Path(profile_dir) / REVEAL_DIR / agreement_id / f"{run_id}.json"


def save_account_map(
    profile_dir: Path,
    agreement: Agreement,
    run_id: str,
    prepared: PreparedUpload,
    loaded: LoadResult,
    plan: RevealPlan,
) -> Path:
    """Keep label -> our own account for the accounts that may be revealed to us (0600, in the profile)."""
    wanted = set(plan.view_populations)
    population_header = (
        None if loaded.columns.population_column is None else loaded.columns.names[loaded.columns.population_column]
    )
    accounts = {}
    for label, index in enumerate(prepared.label_to_account):
        account = loaded.accounts[index]
        if wanted.intersection(account.populations):
            accounts[str(label)] = {
                "name": account.name,
                "domain": account.domain,
                "keys": [str(k) for k in account.keys],
                "populations": list(account.populations),
                "rows": list(account.rows),
                "stage": account.fields.get(population_header) if population_header else None,
                "fields": account.fields,
            }
    body = {
        "agreement_id": agreement.agreement_id,
        "run_id": run_id,
        "terms_hash": agreement.terms_hash,
        "party": plan.party,
        "partner": plan.peer,
        "source": str(loaded.source),
        "mapped_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "view_populations": list(plan.view_populations),
        "accounts": accounts,
    }
    path = map_path(profile_dir, agreement.agreement_id, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent.parent, 0o700)
    os.chmod(path.parent, 0o700)
    write_private(path, json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return path


def load_account_map(profile_dir: Path, agreement_id: str, run_id: str) -> dict[str, Any]:
    path = map_path(profile_dir, agreement_id, run_id)
    try:
        kept: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"run {run_id} of agreement {agreement_id} was not mapped from this profile (no {path}): revealed accounts are joined "
            f"back to your rows only where you ran `map`; run `cleanroom-client map {agreement_id} FILE` from this profile"
        ) from None
    return kept


# -- what is revealed to us ---------------------------------------------------------------


def release_dict(release: RevealRelease) -> dict[str, Any]:
    """The signed body of a reveal release (plus its signature), as the coordinator signed it."""
    return {
        "kind": "reveal",
        "agreement_id": release.agreement_id,
        "run_id": release.run_id,
        "viewer": release.viewer,
        "other": release.other,
        "terms_version": release.terms_version,
        "terms_hash": release.terms_hash,
        "released_at": release.released_at,
        "min_count": release.min_count,
        "cells": cells_list(release.cells),
        "rows": release.rows,
        "rows_digest": release.rows_digest,
        "signature": release.signature.hex(),
    }


@dataclass
class Revealed:
    """One agreement's reveal, opened and joined back to our own accounts."""

    agreement_id: str
    run_id: str
    partner: str
    release: dict[str, Any]
    # {"account": our account as kept at map time, "label", "partner_populations", "partner_fields"}
    rows: list[dict[str, Any]]
    share: tuple[str, ...]  # the columns the partner shares


def _verified(release: RevealRelease, body: dict[str, Any], public_pem: bytes, where: str) -> AuditHead | None:
    """The release's signature and its audit head's, both checked; the head (to keep with the release)."""
    if not verify_json(public_pem, {k: v for k, v in body.items() if k != "signature"}, release.signature):
        raise RevealError(f"{where}: the coordinator's signature does not verify; nothing is shown")
    try:
        return verified_head(release.audit_head, public_pem, where)
    except ProtocolError as exc:
        raise RevealError(f"{exc}; nothing is shown") from None


def _check_counts(where: str, cells: list[dict[str, Any]], rows: list[dict[str, Any]], terms: Terms) -> None:
    """The rows reveal no more companies on any pair than the release counts there (cleanroom.reveal)."""
    problems = reveal_count_problems(cells, rows)
    if len(terms.key_kinds) == 1:
        problems += single_key_problems(rows)
    if problems:
        raise RevealError(
            f"{where}: the revealed rows disagree with the released counts ({problems[0]}): the match was tampered with or "
            "the coordinator deviates. Nothing from this release is shown; tell the coordinator's operator"
        )


def _checked_release(
    release: RevealRelease, rows: list[RevealedAccount], profile: Profile, agreement: Agreement, terms: Terms
) -> tuple[dict[str, Any], list[dict[str, Any]], str, AuditHead | None]:
    """The release's signed body and its rows, once the signature (and its audit head's), the rows' digest,
    the viewer, the terms and the counts all check; how to name it in an error; its audit head."""
    body = release_dict(release)
    where = f"the reveal of agreement {agreement.agreement_id} (run {body['run_id']})"
    head = _verified(release, body, profile.signing_key(), where)
    listed: list[dict[str, Any]] = [
        {
            "account": r.account,
            "their_account": r.their_account,
            "theirs": list(r.theirs),
            "sealed": r.sealed,
            "mine": list(r.mine),
            "component": r.component,
        }
        for r in rows
    ]
    if len(listed) != body["rows"] or reveal_digest(listed) != body["rows_digest"]:
        raise RevealError(
            f"{where}: the rows received do not match the signed release ({len(listed)} rows, {body['rows']} signed); nothing is shown"
        )
    if body["viewer"] != profile.party or body["terms_hash"] != agreement.terms_hash:
        raise RevealError(
            f"{where}: released to {body['viewer']} under terms {body['terms_hash'][:12]}..., not to you under the current terms"
        )
    _check_counts(where, body["cells"], listed, terms)
    return body, listed, where, head


def fetch_revealed(
    remote: Remote, profile: Profile, agreement: Agreement, terms: Terms, receipts: ReceiptLog | None = None, run_id: str = ""
) -> Revealed:
    """Ask for our reveal, check it, open every sealed row, join it back to our rows. All or nothing."""
    body, listed, where, head = _checked_release(*remote.reveal(agreement.agreement_id, run_id), profile, agreement, terms)
    kept = load_account_map(profile.path, agreement.agreement_id, body["run_id"])
    partner = terms.other(profile.party)
    opener = Opener(
        SealContext(agreement.agreement_id, body["terms_hash"], partner, profile.party), EncryptionKeys(profile.path).private()
    )
    share = terms.shared_columns(partner)
    granted_theirs = {t for _, t in terms.reveal_granted(profile.party)}
    out = []
    for row in listed:
        account = kept["accounts"].get(str(row["account"]))
        if account is None:
            raise RevealError(
                f"{where}: the coordinator revealed your account label {row['account']}, which is not one of your accounts on a granted "
                "population pair in that run; nothing is shown"
            )
        if not row["theirs"] or not set(row["theirs"]) <= granted_theirs:
            raise RevealError(f"{where}: a row names {partner} populations {row['theirs']} outside your grant; nothing is shown")
        if not set(row["mine"]) <= set(account["populations"]):
            raise RevealError(
                f"{where}: a row puts your account label {row['account']} in populations {row['mine']}, but you uploaded it in "
                f"{account['populations']}; nothing is shown"
            )
        fields = _opened_fields(where, partner, share, opener, row)
        out.append({"account": account, "label": row["account"], "partner_populations": row["theirs"], "partner_fields": fields})
    if receipts is not None and not any(e.get("release", {}).get("signature") == body["signature"] for e in receipts.entries()):
        receipts.record_release(body, head)
    return Revealed(agreement.agreement_id, body["run_id"], partner, body, out, share)


def _opened_fields(where: str, partner: str, share: tuple[str, ...], opener: Opener, row: dict[str, Any]) -> dict[str, Any]:
    """The partner's shared fields of one revealed row, authenticated and within what the terms share."""
    if not row["sealed"]:
        if share:
            raise RevealError(
                f"{where}: {partner} shares {', '.join(share)} but a row came without its sealed fields; nothing is shown"
            )
        return {}
    try:
        fields = json.loads(opener.open(row["their_account"], row["sealed"]))
    except SealError as exc:
        raise RevealError(
            f"{where}: {partner}'s shared fields for one of your accounts fail authentication ({exc}): they were altered after "
            f"{partner} sealed them (in the coordinator's store or on the way), or were not sealed to you under these terms. "
            "Nothing from this release is shown; tell the coordinator's operator"
        ) from None
    if not isinstance(fields, dict) or set(fields) - set(share):
        raise RevealError(
            f"{where}: {partner}'s sealed fields name columns outside what the terms say it shares; nothing is shown"
        )
    return fields
