"""The coordinator's rules: agreements, uploads, runs and releases.

Wire-independent: methods take the caller's party name (from its mTLS
certificate, resolved by the wire layer) and plain values, and raise the
domain errors of ``cleanroom.errors``. Every refusal happens before any write,
so a refused request changes no state (apart from its audit entry).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from cleanroom.protocol import MAX_CHUNK_POINTS, chunk_digest, upload_digest
from cleanroom.coordinator.noise import privatise
from cleanroom.coordinator import linkage
from cleanroom.coordinator.overlap import SideTokens, account_masks, overlap_counts
from cleanroom.coordinator.release import overlap_release, reveal_cells
from cleanroom.coordinator.store import Store, now, release_text
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from cleanroom.psi import POINT_SIZE, InvalidPoint, check_points
from cleanroom.crypto.sealed import check_public, fingerprint, reveal_digest, unpack_chunk
from cleanroom.terms import Terms, amend_share, parse_terms, terms_hash

OWN, REBLINDED = "own", "reblinded"
PURPOSES = ("overlap", "attribution")
DEFAULT_MAX_POINTS = 5_000_000


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class Limits:
    max_points: int = DEFAULT_MAX_POINTS
    max_chunk_points: int = MAX_CHUNK_POINTS


class Coordinator:
    def __init__(self, store: Store, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        # Both parties' last commits can arrive at once: one thread completes a run, the other then sees it complete.
        self._completing = threading.Lock()
        # Both parties may begin at the same instant: deciding which run an upload joins (or opening
        # one) and recording the upload must be one step, or each side opens its own run and waits forever.
        self._beginning = threading.Lock()

    # -- agreements ----------------------------------------------------------

    def _agreement(self, caller: str, agreement_id: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM agreements WHERE agreement_id = ?", [agreement_id])
        if row is None:
            raise NotFound(f"agreement {agreement_id!r} does not exist")
        if caller not in (row["proposer"], row["counterparty"]):
            raise PermissionDenied(f"party {caller!r} is not a party to agreement {agreement_id}")
        row["approved_by"] = [
            r["party"]
            for r in self.store.rows(
                "SELECT party FROM approvals WHERE agreement_id = ? AND version = ? AND terms_hash = ? ORDER BY approved_at",
                [agreement_id, row["version"], row["terms_hash"]],
            )
        ]
        row["encryption"] = [
            {"party": r["party"], "public_x25519": bytes(r["public_x25519"]), "fingerprint": r["fingerprint"]}
            for r in self.store.rows(
                "SELECT party, public_x25519, fingerprint FROM encryption_keys WHERE agreement_id = ? ORDER BY registered_at", [agreement_id]
            )
        ]
        return row

    def terms_of(self, agreement: dict[str, Any]) -> Terms:
        return parse_terms(bytes(agreement["terms_json"]))

    def propose(self, caller: str, counterparty: str, terms_json: bytes, encryption_public: bytes = b"") -> dict[str, Any]:
        terms = parse_terms(terms_json)
        if terms.parties != (caller, counterparty):
            raise InvalidArgument(
                f"terms name parties {list(terms.parties)}, but the proposer is {caller!r} and the counterparty {counterparty!r}"
            )
        self._check_encryption_public(encryption_public)
        if terms.reveals() and not encryption_public:
            raise InvalidArgument("the terms grant account-level reveal: the proposal must carry your X25519 encryption key")
        agreement_id = _new_id("agr")
        digest = terms_hash(terms_json)
        at = now()
        with self.store.transaction() as con:
            con.execute(
                "INSERT INTO agreements VALUES (?, 1, ?, ?, ?, ?, 'proposed', ?)",
                [agreement_id, caller, counterparty, terms_json, digest, at],
            )
            con.execute("INSERT INTO approvals VALUES (?, 1, ?, ?, ?)", [agreement_id, caller, digest, at])
            details = {"version": 1, "terms_hash": digest, "counterparty": counterparty}
            if encryption_public:
                details["encryption_fingerprint"] = self._register_key(con, agreement_id, caller, encryption_public)
            self.store.audit(con, caller, "agreement.proposed", agreement_id, details)
        return self._agreement(caller, agreement_id)

    @staticmethod
    def _check_encryption_public(public: bytes) -> None:
        if public:
            try:
                check_public(public)
            except ValueError as exc:
                raise InvalidArgument(f"encryption key: {exc}") from None

    def _register_key(self, con, agreement_id: str, party: str, public: bytes) -> str:
        """Record the party's X25519 key for the agreement (one per party and agreement); returns its fingerprint."""
        row = con.execute(
            "SELECT public_x25519, fingerprint FROM encryption_keys WHERE agreement_id = ? AND party = ?", [agreement_id, party]
        ).fetchone()
        if row is not None:
            if bytes(row[0]) != public:
                raise FailedPrecondition(
                    f"{party} already gave agreement {agreement_id} the encryption key {row[1]}; a party keeps one key per agreement "
                    "(rows already sealed to it could not be read otherwise). If that key is lost, revoke the agreement and propose a new one"
                )
            return row[1]
        fp = fingerprint(public)
        con.execute("INSERT INTO encryption_keys VALUES (?, ?, ?, ?, ?)", [agreement_id, party, public, fp, now()])
        return fp

    def get(self, caller: str, agreement_id: str) -> dict[str, Any]:
        return self._agreement(caller, agreement_id)

    def list(self, caller: str) -> list[dict[str, Any]]:
        ids = self.store.rows(
            "SELECT agreement_id FROM agreements WHERE proposer = ? OR counterparty = ? ORDER BY created_at",
            [caller, caller],
        )
        return [self._agreement(caller, r["agreement_id"]) for r in ids]

    def approve(
        self, caller: str, agreement_id: str, approved_hash: str,
        approver_terms_json: bytes = b"", amended_hash: str = "", encryption_public: bytes = b"",
    ) -> dict[str, Any]:
        """Approve the exact terms shown; with ``approver_terms_json`` ({"share": [...]}) amend the
        caller's own shared columns first: the amended terms become a new version that this call
        approves and the other party must approve too."""
        agreement = self._agreement(caller, agreement_id)
        if agreement["state"] == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked")
        if approved_hash != agreement["terms_hash"]:
            raise FailedPrecondition(
                f"the terms of {agreement_id} changed: you approved {approved_hash[:12]}..., the current terms hash is "
                f"{agreement['terms_hash'][:12]}...; show the agreement again and approve what it shows"
            )
        self._check_encryption_public(encryption_public)
        terms_json = bytes(agreement["terms_json"])
        if approver_terms_json:
            amended = self._amended(caller, agreement, approver_terms_json)
            if terms_hash(amended) != amended_hash:
                raise FailedPrecondition(
                    f"the amended terms of {agreement_id} hash to {terms_hash(amended)[:12]}..., not the {amended_hash[:12] or 'empty'}... "
                    "you approved; show the agreement again"
                )
            if amended != terms_json:
                return self._amend(caller, agreement, amended, encryption_public)
        terms = parse_terms(terms_json)
        has_key = any(k["party"] == caller for k in agreement["encryption"])
        if terms.reveals() and not (has_key or encryption_public):
            raise FailedPrecondition("the terms grant account-level reveal: approve with your X25519 encryption key")
        if caller in agreement["approved_by"]:
            if encryption_public and not has_key:
                with self.store.transaction() as con:
                    self._register_key(con, agreement_id, caller, encryption_public)
                return self._agreement(caller, agreement_id)
            return agreement
        with self.store.transaction() as con:
            con.execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?, ?)",
                [agreement_id, agreement["version"], caller, approved_hash, now()],
            )
            both = {caller, *agreement["approved_by"]} >= {agreement["proposer"], agreement["counterparty"]}
            if both:
                con.execute("UPDATE agreements SET state = 'active' WHERE agreement_id = ?", [agreement_id])
            details = {"version": agreement["version"], "terms_hash": approved_hash}
            if encryption_public:
                details["encryption_fingerprint"] = self._register_key(con, agreement_id, caller, encryption_public)
            self.store.audit(con, caller, "agreement.approved", agreement_id, details)
        return self._agreement(caller, agreement_id)

    def _amended(self, caller: str, agreement: dict[str, Any], approver_terms_json: bytes) -> bytes:
        try:
            additions = json.loads(approver_terms_json.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidArgument(f"approver_terms_json is not valid UTF-8 JSON: {exc}") from None
        if not isinstance(additions, dict) or set(additions) != {"share"} or not isinstance(additions["share"], list):
            raise InvalidArgument('approver_terms_json must be {"share": [column, ...]}: an approver may change only its own shared columns')
        return amend_share(bytes(agreement["terms_json"]), caller, additions["share"])

    def _amend(self, caller: str, agreement: dict[str, Any], amended: bytes, encryption_public: bytes) -> dict[str, Any]:
        agreement_id, version = agreement["agreement_id"], int(agreement["version"]) + 1
        digest = terms_hash(amended)
        terms = parse_terms(amended)
        has_key = any(k["party"] == caller for k in agreement["encryption"])
        if terms.reveals() and not (has_key or encryption_public):
            raise FailedPrecondition("the terms grant account-level reveal: approve with your X25519 encryption key")
        with self.store.transaction() as con:
            con.execute(
                "UPDATE agreements SET version = ?, terms_json = ?, terms_hash = ?, state = 'proposed' WHERE agreement_id = ?",
                [version, amended, digest, agreement_id],
            )
            con.execute("INSERT INTO approvals VALUES (?, ?, ?, ?, ?)", [agreement_id, version, caller, digest, now()])
            details = {
                "version": version, "terms_hash": digest, "previous_terms_hash": agreement["terms_hash"],
                "share": {caller: list(terms.shared_columns(caller))},
            }
            if encryption_public:
                details["encryption_fingerprint"] = self._register_key(con, agreement_id, caller, encryption_public)
            self.store.audit(con, caller, "agreement.amended", agreement_id, details)
        return self._agreement(caller, agreement_id)

    def revoke(self, caller: str, agreement_id: str, reason: str) -> dict[str, Any]:
        agreement = self._agreement(caller, agreement_id)
        if agreement["state"] == "revoked":
            return agreement
        with self.store.transaction() as con:
            con.execute("UPDATE agreements SET state = 'revoked' WHERE agreement_id = ?", [agreement_id])
            self.store.audit(con, caller, "agreement.revoked", agreement_id, {"reason": reason})
            deleted = self._purge_points(con, agreement_id=agreement_id)
            unreleased = con.execute("SELECT count(*) FROM reveal_rows WHERE agreement_id = ?", [agreement_id]).fetchone()[0]
            if unreleased:
                con.execute("DELETE FROM reveal_rows WHERE agreement_id = ?", [agreement_id])
                deleted["sealed_rows"] = int(unreleased)
            con.execute("UPDATE runs SET state = 'revoked' WHERE agreement_id = ? AND state = 'collecting'", [agreement_id])
            self.store.audit(con, caller, "points.deleted", agreement_id, {"cause": "revocation", **deleted})
        self.store.checkpoint()
        return self._agreement(caller, agreement_id)

    def _active(self, caller: str, agreement_id: str, terms_hash_seen: str) -> tuple[dict[str, Any], Terms]:
        agreement = self._agreement(caller, agreement_id)
        if agreement["state"] == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked; no further runs")
        if agreement["state"] != "active":
            waiting = [p for p in (agreement["proposer"], agreement["counterparty"]) if p not in agreement["approved_by"]]
            raise FailedPrecondition(f"agreement {agreement_id} is not approved yet (waiting for {', '.join(waiting)})")
        if terms_hash_seen != agreement["terms_hash"]:
            raise FailedPrecondition(
                f"agreement {agreement_id} changed since you approved it (terms hash {agreement['terms_hash'][:12]}...); show and approve it again"
            )
        return agreement, self.terms_of(agreement)

    # -- uploads -------------------------------------------------------------

    def _open_run(self, agreement: dict[str, Any], purpose: str) -> dict[str, Any] | None:
        return self.store.row(
            "SELECT * FROM runs WHERE agreement_id = ? AND purpose = ? AND state = 'collecting' ORDER BY created_at DESC LIMIT 1",
            [agreement["agreement_id"], purpose],
        )

    def _upload(self, run_id: str, party: str, kind: str) -> dict[str, Any] | None:
        return self.store.row("SELECT * FROM uploads WHERE run_id = ? AND party = ? AND kind = ?", [run_id, party, kind])

    def _received(self, upload_id: str) -> list[int]:
        return [r["seq"] for r in self.store.rows("SELECT seq FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id])]

    def _session(self, upload: dict[str, Any]) -> dict[str, Any]:
        return {
            "run_id": upload["run_id"],
            "upload_id": upload["upload_id"],
            "received_chunks": self._received(upload["upload_id"]),
            "max_chunk_points": self.limits.max_chunk_points,
            "committed": upload["committed"],
        }

    def begin_upload(
        self,
        caller: str,
        agreement_id: str,
        terms_hash_seen: str,
        kind: str,
        run_id: str,
        total_points: int,
        total_chunks: int,
        total_accounts: int,
        digest: str,
        of_upload_id: str = "",
        purpose: str = "overlap",
    ) -> dict[str, Any]:
        agreement, terms = self._active(caller, agreement_id, terms_hash_seen)
        if kind not in (OWN, REBLINDED):
            raise InvalidArgument("upload kind must be OWN or REBLINDED")
        purpose = purpose or "overlap"
        if purpose not in PURPOSES:
            raise InvalidArgument(f"run purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
        if purpose == "attribution" and terms.attribution is None:
            raise FailedPrecondition(f"agreement {agreement_id} does not include attribution; propose terms with --attribution")
        if purpose == "overlap" and terms.reveals():
            missing = [p for p in terms.parties if p not in {k["party"] for k in agreement["encryption"]}]
            if missing:
                raise FailedPrecondition(
                    f"agreement {agreement_id} grants account-level reveal but {', '.join(missing)} gave no encryption key; "
                    "approve it again with a current cleanroom-client"
                )
        if total_points > self.limits.max_points:
            raise ResourceExhausted(
                f"upload of {total_points:,} points exceeds this coordinator's limit of {self.limits.max_points:,} points"
            )
        if total_points < 1 or total_chunks < 1 or total_chunks > total_points:
            raise InvalidArgument(f"an upload needs at least one point and one chunk (got {total_points} points in {total_chunks} chunks)")
        if -(-total_points // self.limits.max_chunk_points) > total_chunks:
            raise InvalidArgument(f"chunks hold at most {self.limits.max_chunk_points} points; {total_chunks} chunks cannot hold {total_points}")
        if len(digest) != 64:
            raise InvalidArgument("upload_digest must be a hex SHA-256")
        with self._beginning:
            if kind == OWN:
                return self._begin_own(caller, agreement, terms, total_points, total_chunks, total_accounts, digest, purpose)
            return self._begin_reblinded(caller, agreement, terms, run_id, of_upload_id, total_points, total_chunks, digest)

    def _begin_own(self, caller, agreement, terms, total_points, total_chunks, total_accounts, digest, purpose):
        if total_accounts > total_points or total_accounts < 1:
            raise InvalidArgument(f"total_accounts ({total_accounts}) must be between 1 and total_points ({total_points})")
        if total_accounts < terms.min_set_size:
            raise FailedPrecondition(
                f"your set has {total_accounts} accounts, below the agreement's minimum set size of {terms.min_set_size}"
            )
        run = self._open_run(agreement, purpose)
        if run is None and purpose == "attribution":
            # The same file again after its run completed: that run stands (a job may re-run its model on it).
            done = self.store.row(
                """SELECT u.* FROM uploads u JOIN runs r USING (run_id)
                   WHERE r.agreement_id = ? AND r.purpose = 'attribution' AND r.state = 'complete'
                     AND u.party = ? AND u.kind = 'own' AND u.upload_digest = ?
                   ORDER BY r.created_at DESC LIMIT 1""",
                [agreement["agreement_id"], caller, digest],
            )
            if done is not None:
                return self._session(done)
        if run is not None:
            existing = self._upload(run["run_id"], caller, OWN)
            if existing is not None:
                if existing["upload_digest"] == digest:
                    return self._session(existing)  # resume
                peer_started = self.store.row(
                    "SELECT 1 FROM uploads WHERE run_id = ? AND party = ? AND kind = ? AND committed",
                    [run["run_id"], terms.other(caller), REBLINDED],
                )
                if peer_started:
                    raise FailedPrecondition(
                        f"run {run['run_id']} already uses your earlier upload and {terms.other(caller)} is re-blinding it; "
                        "wait for the run to complete, then map again"
                    )
        upload_id = _new_id("upl")
        with self.store.transaction() as con:
            if run is None:
                run_id = _new_id("run")
                con.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, 'collecting', ?, NULL, ?)",
                    [run_id, agreement["agreement_id"], agreement["version"], agreement["terms_hash"], now(), purpose],
                )
                self.store.audit(con, caller, "run.started", agreement["agreement_id"], {"run_id": run_id, "purpose": purpose, "terms_hash": agreement["terms_hash"]})
            else:
                run_id = run["run_id"]
                replaced = self._upload(run_id, caller, OWN)
                if replaced is not None:
                    con.execute("DELETE FROM chunks WHERE upload_id = ?", [replaced["upload_id"]])
                    con.execute("DELETE FROM uploads WHERE upload_id = ?", [replaced["upload_id"]])
                    self.store.audit(con, caller, "upload.replaced", agreement["agreement_id"], {"run_id": run_id, "upload_id": replaced["upload_id"]})
            con.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, false, ?, NULL)",
                [upload_id, run_id, caller, OWN, total_points, total_chunks, total_accounts, digest, now()],
            )
        return self._session(self._upload(run_id, caller, OWN))

    def _begin_reblinded(self, caller, agreement, terms, run_id, of_upload_id, total_points, total_chunks, digest):
        run = self.store.row("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if run is None or run["agreement_id"] != agreement["agreement_id"]:
            raise NotFound(f"run {run_id!r} does not exist in agreement {agreement['agreement_id']}")
        if run["state"] != "collecting":
            raise FailedPrecondition(f"run {run_id} is {run['state']}; nothing to re-blind")
        peer = self._upload(run_id, terms.other(caller), OWN)
        if peer is None or not peer["committed"]:
            raise FailedPrecondition(f"{terms.other(caller)} has not finished uploading to run {run_id}; nothing to re-blind yet")
        if of_upload_id != peer["upload_id"]:
            raise FailedPrecondition(
                f"{terms.other(caller)} replaced its upload to run {run_id}; fetch its points again and re-blind those"
            )
        if (total_points, total_chunks) != (peer["total_points"], peer["total_chunks"]):
            raise InvalidArgument(
                f"re-blinded upload must match the peer's: {peer['total_points']} points in {peer['total_chunks']} chunks "
                f"(got {total_points} in {total_chunks})"
            )
        existing = self._upload(run_id, caller, REBLINDED)
        if existing is not None:
            if existing["upload_digest"] == digest:
                return self._session(existing)
            if existing["committed"]:
                raise FailedPrecondition(f"you already re-blinded the peer's points of run {run_id}")
        upload_id = _new_id("upl")
        with self.store.transaction() as con:
            if existing is not None:
                con.execute("DELETE FROM chunks WHERE upload_id = ?", [existing["upload_id"]])
                con.execute("DELETE FROM uploads WHERE upload_id = ?", [existing["upload_id"]])
            con.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, false, ?, NULL)",
                [upload_id, run_id, caller, REBLINDED, total_points, total_chunks, digest, of_upload_id, now()],
            )
        return self._session(self._upload(run_id, caller, REBLINDED))

    def _own_upload(self, caller: str, upload_id: str) -> dict[str, Any]:
        upload = self.store.row("SELECT * FROM uploads WHERE upload_id = ?", [upload_id])
        if upload is None:
            raise NotFound(f"upload {upload_id!r} does not exist (begin the upload again)")
        if upload["party"] != caller:
            raise PermissionDenied(f"upload {upload_id} belongs to another party")
        return upload

    def _require_collecting(self, upload: dict[str, Any]) -> dict[str, Any]:
        run = self.store.row("SELECT * FROM runs WHERE run_id = ?", [upload["run_id"]])
        if run["state"] != "collecting":
            raise FailedPrecondition(f"run {run['run_id']} is {run['state']}; it takes no more uploads")
        return run

    def put_chunk(
        self, caller: str, upload_id: str, seq: int, points: bytes, accounts: bytes, populations: bytes, digest: str, records: bytes = b"",
        sealed: bytes = b"",
    ) -> list[int]:
        upload = self._own_upload(caller, upload_id)
        run = self._require_collecting(upload)
        received = self._received(upload_id)
        if seq in received:
            stored = self.store.row("SELECT digest FROM chunks WHERE upload_id = ? AND seq = ?", [upload_id, seq])
            if stored["digest"] != digest:
                raise InvalidArgument(f"chunk {seq} of upload {upload_id} was already received with different content")
            return received  # a repeated chunk is a no-op
        if upload["committed"]:
            raise FailedPrecondition(f"upload {upload_id} is already committed")
        if seq >= upload["total_chunks"]:
            raise InvalidArgument(f"chunk {seq} is out of range: upload {upload_id} has {upload['total_chunks']} chunks")
        expected = len(received)
        if seq != expected:
            raise InvalidArgument(f"chunk {seq} is out of order: expected chunk {expected}")
        if chunk_digest(points, accounts, populations, records, sealed) != digest:
            raise InvalidArgument(f"chunk {seq} does not match its digest (corrupted in transit?)")
        try:
            check_points(points)
        except InvalidPoint as exc:
            raise InvalidArgument(f"chunk {seq}: {exc}") from None
        n = len(points) // POINT_SIZE
        if n == 0 or n > self.limits.max_chunk_points:
            raise InvalidArgument(f"chunk {seq} holds {n} points; a chunk holds 1 to {self.limits.max_chunk_points}")
        if records and not (upload["kind"] == OWN and run["purpose"] == "attribution"):
            raise InvalidArgument("only own uploads of attribution runs carry records")
        if sealed:
            self._check_sealed(upload, run, seq, sealed)
        if upload["kind"] == OWN:
            self._check_labels(upload, seq, n, accounts, populations, run["purpose"])
            if run["purpose"] == "attribution":
                terms = self.terms_of(self.store.row("SELECT * FROM agreements WHERE agreement_id = ?", [run["agreement_id"]]))
                linkage.check_records(records, vendor=caller == terms.vendor, total_accounts=int(upload["total_accounts"]), where=f"chunk {seq}")
        else:
            if accounts or populations:
                raise InvalidArgument("re-blinded chunks carry no labels")
            peer_n = self._peer_chunk_points(upload, seq)
            if n != peer_n:
                raise InvalidArgument(f"re-blinded chunk {seq} holds {n} points; the peer's chunk {seq} holds {peer_n}")
        with self.store.transaction() as con:
            con.execute(
                "INSERT INTO chunks (upload_id, seq, n_points, points, accounts, populations, digest, records, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [upload_id, seq, n, points, accounts or None, populations or None, digest, records or None, sealed or None],
            )
        return received + [seq]

    def _sealing_terms(self, run: dict[str, Any]) -> Terms:
        return self.terms_of(self.store.row("SELECT * FROM agreements WHERE agreement_id = ?", [run["agreement_id"]]))

    @staticmethod
    def _seals(terms: Terms, party: str) -> tuple[str, ...]:
        """The populations of ``party`` whose accounts it seals its shared columns for (empty: it seals nothing)."""
        if not terms.shared_columns(party):
            return ()
        revealed = {t for _, t in terms.reveal_granted(terms.other(party))}
        return tuple(p for p in terms.populations[party] if p in revealed)

    def _check_sealed(self, upload: dict[str, Any], run: dict[str, Any], seq: int, sealed: bytes) -> None:
        if not (upload["kind"] == OWN and run["purpose"] == "overlap" and self._seals(self._sealing_terms(run), upload["party"])):
            raise InvalidArgument(
                "only own uploads of overlap runs carry sealed fields, and only when the terms grant the other side "
                "account-level reveal of columns you share"
            )
        try:
            _, rows = unpack_chunk(sealed, f"chunk {seq}")
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        if rows and rows[-1][0] >= upload["total_accounts"]:
            raise InvalidArgument(f"chunk {seq}: sealed fields for account label {rows[-1][0]} >= total_accounts {upload['total_accounts']}")

    def _check_sealed_upload(self, upload: dict[str, Any], run: dict[str, Any]) -> None:
        """At commit: sealed fields for exactly the accounts the terms may reveal to the other side, each once."""
        if run["purpose"] != "overlap" or upload["kind"] != OWN:
            return
        terms = self._sealing_terms(run)
        seals = self._seals(terms, upload["party"])
        if not seals:
            return
        chunks = self.store.rows("SELECT seq, accounts, populations, sealed FROM chunks WHERE upload_id = ? ORDER BY seq", [upload["upload_id"]])
        labels: list[int] = []
        for c in chunks:
            if c["sealed"] is not None:
                labels += [label for label, _ in unpack_chunk(bytes(c["sealed"]), f"chunk {c['seq']}")[1]]
        if any(b <= a for a, b in zip(labels, labels[1:])):
            raise InvalidArgument(f"upload {upload['upload_id']}: sealed account labels must strictly increase across the chunks")
        side = SideTokens(
            tokens=b"",
            accounts=np.frombuffer(b"".join(bytes(c["accounts"]) for c in chunks), dtype="<u4"),
            populations=np.frombuffer(b"".join(bytes(c["populations"]) for c in chunks), dtype="<u2"),
            total_accounts=int(upload["total_accounts"]),
        )
        bits = 0
        for i, pop in enumerate(terms.populations[upload["party"]]):
            if pop in seals:
                bits |= 1 << i
        expected = np.flatnonzero(account_masks(side) & bits)
        got = np.asarray(labels, dtype=np.int64)
        extra, missing = np.setdiff1d(got, expected), np.setdiff1d(expected, got)
        if len(extra):
            raise InvalidArgument(
                f"upload {upload['upload_id']} seals fields for {len(extra)} account(s) outside the populations the terms may reveal "
                f"({', '.join(seals)}), e.g. label {int(extra[0])}; nothing of theirs may be sent"
            )
        if len(missing):
            raise InvalidArgument(
                f"upload {upload['upload_id']} lacks sealed fields for {len(missing)} account(s) in {', '.join(seals)}, e.g. label {int(missing[0])}"
            )

    def _check_labels(self, upload: dict[str, Any], seq: int, n: int, accounts: bytes, populations: bytes, purpose: str = "overlap") -> None:
        if len(accounts) != 4 * n or len(populations) != 2 * n:
            raise InvalidArgument(f"chunk {seq}: need one 4-byte account label and one 2-byte population mask per point")
        acc = np.frombuffer(accounts, dtype="<u4")
        if int(acc.max()) >= upload["total_accounts"]:
            raise InvalidArgument(f"chunk {seq}: account label {int(acc.max())} >= total_accounts {upload['total_accounts']}")
        agreement = self.store.row(
            "SELECT a.* FROM agreements a JOIN runs r USING (agreement_id) WHERE r.run_id = ?", [upload["run_id"]]
        )
        # Attribution runs carry one pseudo-population: every point's mask is 1.
        n_pops = 1 if purpose == "attribution" else len(self.terms_of(agreement).populations[upload["party"]])
        masks = np.frombuffer(populations, dtype="<u2")
        if np.any(masks == 0) or np.any(masks >> n_pops):
            raise InvalidArgument(f"chunk {seq}: population masks must name 1 to {n_pops} of your populations")

    def _peer_chunk_points(self, upload: dict[str, Any], seq: int) -> int:
        row = self.store.row(
            """SELECT c.n_points FROM chunks c JOIN uploads u USING (upload_id)
               WHERE u.run_id = ? AND u.kind = 'own' AND u.party <> ? AND c.seq = ?""",
            [upload["run_id"], upload["party"], seq],
        )
        if row is None:
            raise InvalidArgument(f"the peer's upload has no chunk {seq}")
        return row["n_points"]

    def commit_upload(self, caller: str, upload_id: str) -> dict[str, Any]:
        upload = self._own_upload(caller, upload_id)
        run = self.store.row("SELECT * FROM runs WHERE run_id = ?", [upload["run_id"]])
        if upload["committed"]:
            return self._receipt(upload, run)
        self._require_collecting(upload)
        chunks = self.store.rows("SELECT seq, n_points, digest FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id])
        missing = sorted(set(range(upload["total_chunks"])) - {c["seq"] for c in chunks})
        if missing:
            raise FailedPrecondition(f"upload {upload_id} is missing {len(missing)} chunk(s), first {missing[0]}; send them and commit again")
        points = sum(c["n_points"] for c in chunks)
        if points != upload["total_points"]:
            raise InvalidArgument(f"upload {upload_id} announced {upload['total_points']} points but its chunks hold {points}")
        if upload_digest([c["digest"] for c in chunks]) != upload["upload_digest"]:
            raise InvalidArgument(f"upload {upload_id}: the chunks do not match the announced upload digest")
        if upload["kind"] == REBLINDED:
            peer = self._upload(run["run_id"], self.terms_of(self.store.row("SELECT * FROM agreements WHERE agreement_id = ?", [run["agreement_id"]])).other(caller), OWN)
            if peer is None or peer["upload_id"] != upload["of_upload"]:
                raise FailedPrecondition("the peer replaced its upload while you re-blinded it; run sync again")
        if upload["kind"] == OWN:
            labels = self.store.rows("SELECT accounts FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id])
            distinct = np.unique(np.concatenate([np.frombuffer(bytes(r["accounts"]), dtype="<u4") for r in labels]))
            if len(distinct) != upload["total_accounts"]:
                raise InvalidArgument(
                    f"upload {upload_id} announced {upload['total_accounts']} accounts but labels {len(distinct)} distinct ones"
                )
            self._check_sealed_upload(upload, run)
        with self.store.transaction() as con:
            con.execute("UPDATE uploads SET committed = true, committed_at = ? WHERE upload_id = ?", [now(), upload_id])
            self.store.audit(
                con,
                caller,
                "upload.committed",
                run["agreement_id"],
                {
                    "run_id": run["run_id"],
                    "upload_id": upload_id,
                    "kind": upload["kind"],
                    "points": upload["total_points"],
                    "accounts": upload["total_accounts"],
                    "chunks": upload["total_chunks"],
                    "upload_digest": upload["upload_digest"],
                    "chunk_digests": [c["digest"] for c in chunks],
                },
            )
        upload = self._own_upload(caller, upload_id)
        self._maybe_complete(run["run_id"])
        return self._receipt(upload, run)

    def _receipt(self, upload: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        body = {
            "upload_id": upload["upload_id"],
            "run_id": run["run_id"],
            "agreement_id": run["agreement_id"],
            "terms_hash": run["terms_hash"],
            "kind": upload["kind"],
            "party": upload["party"],
            "total_points": int(upload["total_points"]),
            "total_chunks": int(upload["total_chunks"]),
            "upload_digest": upload["upload_digest"],
            "received_at": upload["committed_at"] or "",
        }
        return {**body, "signature": self.store.signer.sign_json(body)}

    # -- runs ----------------------------------------------------------------

    def _maybe_complete(self, run_id: str) -> None:
        with self._completing:
            self._complete_if_ready(run_id)

    def _complete_if_ready(self, run_id: str) -> None:
        uploads = self.store.rows("SELECT * FROM uploads WHERE run_id = ? AND committed", [run_id])
        if len(uploads) < 4:
            return
        run = self.store.row("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if run["state"] != "collecting":
            return
        agreement = self.store.row("SELECT * FROM agreements WHERE agreement_id = ?", [run["agreement_id"]])
        terms = self.terms_of(agreement)
        a, b = terms.parties
        by = {(u["party"], u["kind"]): u for u in uploads}
        if run["purpose"] == "attribution":
            self._complete_attribution(run, terms, by)
            return
        side_a = self._side_tokens(by[(a, OWN)], by[(b, REBLINDED)])
        side_b = self._side_tokens(by[(b, OWN)], by[(a, REBLINDED)])
        counts = overlap_counts(side_a, side_b, len(terms.populations[a]), len(terms.populations[b]))
        result = {
            "parties": [a, b],
            "populations": {a: list(terms.populations[a]), b: list(terms.populations[b])},
            "accounts": {a: counts.a_accounts, b: counts.b_accounts},
            "overlap": counts.overlap,
            "matrix": counts.matrix,
        }
        if terms.dp_epsilon is not None:
            # Only the noisy numbers are kept: the exact ones never reach the store.
            private = privatise(counts.matrix, counts.overlap, terms.dp_epsilon, counts.a_accounts, counts.b_accounts)
            result.update(matrix=private["matrix"], overlap=private["overlap"], dp={"epsilon": terms.dp_epsilon, "scale": private["scale"]})
        reveal = self._reveal_rows(terms, side_a, side_b, counts, by) if terms.reveals() else {}
        with self.store.transaction() as con:
            con.execute(
                "INSERT INTO results VALUES (?, ?, ?, ?)",
                [run_id, run["agreement_id"], json.dumps(result, sort_keys=True), now()],
            )
            con.execute("UPDATE runs SET state = 'complete', completed_at = ? WHERE run_id = ?", [now(), run_id])
            for viewer, rows in reveal.items():
                if rows:
                    con.executemany(
                        "INSERT INTO reveal_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [[run_id, run["agreement_id"], viewer, i, acc, theirs_acc, json.dumps(theirs), sealed or None]
                         for i, (acc, theirs_acc, theirs, sealed) in enumerate(rows)],
                    )
            details = {"run_id": run_id, "accounts": result["accounts"], "terms_hash": run["terms_hash"]}
            if reveal:
                details["reveal_rows"] = {viewer: len(rows) for viewer, rows in reveal.items()}
            self.store.audit(con, "coordinator", "run.completed", run["agreement_id"], details)
            self._retain(con, run, terms)
        if terms.retention_seconds == 0:
            self.store.checkpoint()  # rewrite the file so deleted points leave it

    def _reveal_rows(self, terms: Terms, side_a: SideTokens, side_b: SideTokens, counts, by: dict) -> dict[str, list[tuple[int, int, list[str], bytes]]]:
        """Per viewer with a reveal grant: (its account, the other's account, the other's populations
        on granted pairs, the other's sealed fields) for every matched pair whose cell reaches min_count."""
        a, b = terms.parties
        masks = {a: account_masks(side_a), b: account_masks(side_b)}
        out: dict[str, list[tuple[int, int, list[str], bytes]]] = {}
        for viewer in (a, b):
            granted = terms.reveal_granted(viewer)
            if not granted:
                continue
            other = terms.other(viewer)
            mine_pops, their_pops = terms.populations[viewer], terms.populations[other]
            allowed = {
                (i, j)
                for i, m in enumerate(mine_pops)
                for j, t in enumerate(their_pops)
                if (m, t) in granted and (counts.matrix[i][j] if viewer == a else counts.matrix[j][i]) >= terms.min_count
            }
            sealed = self._sealed_fields(by[(other, OWN)])
            pairs = counts.pairs if viewer == a else counts.pairs[:, ::-1]
            rows = []
            for mine_acc, their_acc in pairs.tolist():
                mine_mask, their_mask = int(masks[viewer][mine_acc]), int(masks[other][their_acc])
                theirs = [
                    t for j, t in enumerate(their_pops)
                    if their_mask >> j & 1 and any(mine_mask >> i & 1 and (i, j) in allowed for i in range(len(mine_pops)))
                ]
                if theirs:
                    rows.append((mine_acc, their_acc, theirs, sealed.get(their_acc, b"")))
            out[viewer] = sorted(rows, key=lambda r: (r[0], r[1]))
        return out

    def _sealed_fields(self, upload: dict[str, Any]) -> dict[int, bytes]:
        """Label -> ephemeral || ciphertext of one own upload's sealed fields."""
        found: dict[int, bytes] = {}
        for c in self.store.rows("SELECT seq, sealed FROM chunks WHERE upload_id = ? AND sealed IS NOT NULL ORDER BY seq", [upload["upload_id"]]):
            ephemeral, rows = unpack_chunk(bytes(c["sealed"]), f"chunk {c['seq']}")
            for label, ciphertext in rows:
                found[label] = ephemeral + ciphertext
        return found

    def _retain(self, con, run: dict[str, Any], terms: Terms) -> None:
        """Delete a finished run's points at once when the terms keep them for 0 seconds."""
        if terms.retention_seconds == 0:
            deleted = self._purge_points(con, run_id=run["run_id"])
            self.store.audit(con, "coordinator", "points.deleted", run["agreement_id"], {"cause": "retention", "run_id": run["run_id"], "retention_seconds": 0, **deleted})

    def _complete_attribution(self, run: dict[str, Any], terms: Terms, by: dict) -> None:
        """Link the vendor's deal accounts to the partner's touched accounts; keep only linked touches."""
        vendor, partner = terms.vendor, terms.partner()
        side_v = self._side_tokens(by[(vendor, OWN)], by[(partner, REBLINDED)])
        side_p = self._side_tokens(by[(partner, OWN)], by[(vendor, REBLINDED)])
        linked = linkage.link(side_v, side_p, self._records(by[(vendor, OWN)]), self._records(by[(partner, OWN)]))
        body = {"purpose": "attribution", "vendor": vendor, "partner": partner, "deals": len(linked.deals),
                "linked_accounts": len(np.unique(linked.touches["account"])), "touches": len(linked.touches),
                "deals_digest": linked.deals_digest}
        with self.store.transaction() as con:
            con.execute("INSERT INTO results VALUES (?, ?, ?, ?)", [run["run_id"], run["agreement_id"], json.dumps(body, sort_keys=True), now()])
            con.execute("INSERT INTO attribution_links VALUES (?, ?, ?)", [run["run_id"], *linkage.to_blobs(linked)])
            con.execute("UPDATE runs SET state = 'complete', completed_at = ? WHERE run_id = ?", [now(), run["run_id"]])
            self.store.audit(
                con, "coordinator", "run.completed", run["agreement_id"],
                {"run_id": run["run_id"], "purpose": "attribution", "deals": body["deals"], "linked_accounts": body["linked_accounts"],
                 "deals_digest": body["deals_digest"], "terms_hash": run["terms_hash"]},
            )
            self._retain(con, run, terms)
        if terms.retention_seconds == 0:
            self.store.checkpoint()

    def _records(self, upload: dict[str, Any]) -> bytes:
        rows = self.store.rows("SELECT records FROM chunks WHERE upload_id = ? ORDER BY seq", [upload["upload_id"]])
        return b"".join(bytes(r["records"]) for r in rows if r["records"] is not None)

    def _side_tokens(self, own: dict[str, Any], reblinded: dict[str, Any]) -> SideTokens:
        labels = self.store.rows("SELECT accounts, populations FROM chunks WHERE upload_id = ? ORDER BY seq", [own["upload_id"]])
        tokens = self.store.rows("SELECT points FROM chunks WHERE upload_id = ? ORDER BY seq", [reblinded["upload_id"]])
        return SideTokens(
            tokens=b"".join(bytes(r["points"]) for r in tokens),
            accounts=np.frombuffer(b"".join(bytes(r["accounts"]) for r in labels), dtype="<u4"),
            populations=np.frombuffer(b"".join(bytes(r["populations"]) for r in labels), dtype="<u2"),
            total_accounts=int(own["total_accounts"]),
        )

    def _purge_points(self, con, *, run_id: str | None = None, agreement_id: str | None = None) -> dict[str, int]:
        """Delete every blinded point of a run (or of all runs of an agreement)."""
        if run_id is not None:
            where, param = "run_id = ?", run_id
        else:
            where, param = "run_id IN (SELECT run_id FROM runs WHERE agreement_id = ?)", agreement_id
        n_chunks, n_points = con.execute(
            f"SELECT count(*), coalesce(sum(n_points), 0) FROM chunks WHERE upload_id IN (SELECT upload_id FROM uploads WHERE {where})",
            [param],
        ).fetchone()
        con.execute(f"DELETE FROM chunks WHERE upload_id IN (SELECT upload_id FROM uploads WHERE {where})", [param])
        return {"chunks": int(n_chunks), "points": int(n_points)}

    def purge_expired(self, at: dt.datetime | None = None) -> int:
        """Delete the points of finished runs whose retention period has passed; returns runs purged."""
        at = at or dt.datetime.now(dt.timezone.utc)
        candidates = self.store.rows(
            """SELECT r.run_id, r.agreement_id, r.completed_at, a.terms_json FROM runs r JOIN agreements a USING (agreement_id)
               WHERE r.state = 'complete' AND EXISTS (
                   SELECT 1 FROM chunks c JOIN uploads u USING (upload_id) WHERE u.run_id = r.run_id)"""
        )
        purged = 0
        for run in candidates:
            retention = parse_terms(bytes(run["terms_json"])).retention_seconds
            if dt.datetime.fromisoformat(run["completed_at"]) + dt.timedelta(seconds=retention) > at:
                continue
            with self.store.transaction() as con:
                deleted = self._purge_points(con, run_id=run["run_id"])
                self.store.audit(con, "coordinator", "points.deleted", run["agreement_id"], {"cause": "retention", "run_id": run["run_id"], "retention_seconds": retention, **deleted})
            purged += 1
        if purged:
            self.store.checkpoint()
        return purged

    def peer_chunks(self, caller: str, run_id: str) -> Iterator[dict[str, Any]]:
        run = self.store.row("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if run is None:
            raise NotFound(f"run {run_id!r} does not exist")
        agreement = self._agreement(caller, run["agreement_id"])
        if run["state"] != "collecting":
            raise FailedPrecondition(f"run {run_id} is {run['state']}; its points are gone")
        peer = self._upload(run_id, self.terms_of(agreement).other(caller), OWN)
        if peer is None or not peer["committed"]:
            raise FailedPrecondition(f"the peer has not finished uploading to run {run_id}")
        for seq in range(peer["total_chunks"]):
            row = self.store.row("SELECT points FROM chunks WHERE upload_id = ? AND seq = ?", [peer["upload_id"], seq])
            points = bytes(row["points"])
            yield {"upload_id": peer["upload_id"], "seq": seq, "points": points, "digest": chunk_digest(points)}

    def status(self, caller: str, agreement_id: str, run_id: str = "", purpose: str = "overlap") -> dict[str, Any]:
        agreement = self._agreement(caller, agreement_id)
        terms = self.terms_of(agreement)
        if run_id:
            run = self.store.row("SELECT * FROM runs WHERE run_id = ? AND agreement_id = ?", [run_id, agreement_id])
            if run is None:
                raise NotFound(f"run {run_id!r} does not exist in agreement {agreement_id}")
        else:
            run = self.store.row(
                "SELECT * FROM runs WHERE agreement_id = ? AND purpose = ? ORDER BY created_at DESC LIMIT 1", [agreement_id, purpose or "overlap"]
            )
        if run is None:
            return {"run_id": "", "agreement_id": agreement_id, "state": "none", "parties": [], "waiting_for": ["no upload yet"],
                    "reblind_needed": False, "purpose": purpose or "overlap"}
        uploads = {(u["party"], u["kind"]): u for u in self.store.rows("SELECT * FROM uploads WHERE run_id = ?", [run["run_id"]])}
        me, peer = caller, terms.other(caller)

        def done(party: str, kind: str) -> bool:
            u = uploads.get((party, kind))
            return bool(u and u["committed"])

        parties = [
            {"party": p, "uploaded": done(p, OWN), "points": int(uploads[(p, OWN)]["total_points"]) if (p, OWN) in uploads else 0, "reblinded": done(p, REBLINDED)}
            for p in terms.parties
        ]
        waiting: list[str] = []
        if run["state"] == "collecting":
            if not done(me, OWN):
                waiting.append("your upload")
            if not done(peer, OWN):
                waiting.append(f"{peer}'s upload")
            elif not done(me, REBLINDED):
                waiting.append(f"your re-blinding of {peer}'s points")
            if done(me, OWN) and not done(peer, REBLINDED):
                waiting.append(f"{peer}'s re-blinding of your points")
        status = {
            "run_id": run["run_id"],
            "agreement_id": agreement_id,
            "state": run["state"],
            "parties": parties,
            "waiting_for": waiting,
            "reblind_needed": run["state"] == "collecting" and done(peer, OWN) and not done(me, REBLINDED),
            "purpose": run["purpose"],
        }
        peer_own = uploads.get((peer, OWN))
        if status["reblind_needed"]:
            status.update(peer_upload_id=peer_own["upload_id"], peer_points=int(peer_own["total_points"]), peer_chunks=int(peer_own["total_chunks"]))
        return status

    # -- releases ------------------------------------------------------------

    def overlap(self, caller: str, agreement_id: str, run_id: str = "") -> dict[str, Any]:
        agreement = self._agreement(caller, agreement_id)
        if agreement["state"] == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked; nothing more is released")
        terms = self.terms_of(agreement)
        if run_id:
            result = self.store.row("SELECT * FROM results WHERE run_id = ? AND agreement_id = ?", [run_id, agreement_id])
            if result is None:
                raise NotFound(f"run {run_id!r} of agreement {agreement_id} has no result")
        else:
            result = self.store.row(
                """SELECT s.* FROM results s JOIN runs r USING (run_id)
                   WHERE s.agreement_id = ? AND r.purpose = 'overlap' ORDER BY s.computed_at DESC LIMIT 1""",
                [agreement_id],
            )
            if result is None:
                waiting = self.status(caller, agreement_id)["waiting_for"]
                raise FailedPrecondition(f"agreement {agreement_id} has no complete run yet (waiting for {', '.join(waiting)})")
        stored = self.store.row(
            "SELECT body_json, body_zlib FROM releases WHERE run_id = ? AND viewer = ? AND kind = 'overlap'", [result["run_id"], caller]
        )
        if stored is not None:
            return json.loads(release_text(stored))  # the same numbers again, at no cost
        epsilon = 0.0
        if terms.dp_epsilon is not None:
            epsilon = terms.dp_epsilon
            spent = self.store.row(
                "SELECT coalesce(sum(epsilon), 0) AS spent FROM releases WHERE agreement_id = ? AND viewer = ?", [agreement_id, caller]
            )["spent"]
            if spent + epsilon > terms.dp_budget + 1e-9:
                raise ResourceExhausted(
                    f"privacy budget exhausted: {caller} has spent epsilon {spent:g} of {terms.dp_budget:g} on agreement "
                    f"{agreement_id}, and a release costs {epsilon:g}; earlier releases can still be read at no cost"
                )
        run = self.store.row("SELECT * FROM runs WHERE run_id = ?", [result["run_id"]])
        body = overlap_release(terms, caller, json.loads(result["body_json"]))
        if epsilon:
            body["dp"] = {"epsilon_spent": epsilon, "budget": terms.dp_budget, "budget_remaining": round(terms.dp_budget - spent - epsilon, 12)}
        body.update(
            agreement_id=agreement_id,
            run_id=result["run_id"],
            terms_version=int(run["version"]),
            terms_hash=run["terms_hash"],
            released_at=now(),
        )
        body["signature"] = self.store.signer.sign_json(body).hex()
        with self.store.transaction() as con:
            self.store.insert_release(con, _new_id("rel"), agreement_id, result["run_id"], caller, "overlap", json.dumps(body, sort_keys=True),
                                      now(), epsilon)
            released = {k: body[k] for k in ("run_id", "viewer", "cells", "totals", "terms_hash") if k in body}
            if "dp" in body:
                released["dp"] = body["dp"]
            self.store.audit(con, "coordinator", "release.overlap", agreement_id, released)
        return body

    def reveal(self, caller: str, agreement_id: str, run_id: str = "") -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Account-level reveal to the caller: its own matched account labels on the pairs the terms grant
        it, with the other side's populations there and sealed fields. Stored: asking again returns it."""
        agreement = self._agreement(caller, agreement_id)
        if agreement["state"] == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked; nothing more is released")
        terms = self.terms_of(agreement)
        granted = terms.reveal_granted(caller)
        if not granted:
            raise PermissionDenied(
                f"the terms of agreement {agreement_id} grant {caller} no account-level reveal; "
                "it may see the overlap counts only (`overlap`)"
            )
        if run_id:
            run = self.store.row("SELECT * FROM runs WHERE run_id = ? AND agreement_id = ?", [run_id, agreement_id])
            if run is None or run["purpose"] != "overlap" or run["state"] != "complete":
                raise NotFound(f"run {run_id!r} of agreement {agreement_id} is not a complete overlap run")
        else:
            run = self.store.row(
                """SELECT * FROM runs WHERE agreement_id = ? AND purpose = 'overlap' AND state = 'complete'
                   ORDER BY completed_at DESC LIMIT 1""",
                [agreement_id],
            )
            if run is None:
                status = self.status(caller, agreement_id)
                why = "nobody has mapped under it yet" if status["state"] == "none" else f"waiting for {', '.join(status['waiting_for'])}"
                raise FailedPrecondition(f"agreement {agreement_id} has no complete run yet ({why})")
        stored = self.store.row(
            "SELECT body_json, body_zlib FROM releases WHERE run_id = ? AND viewer = ? AND kind = 'reveal'", [run["run_id"], caller]
        )
        if stored is not None:
            body = json.loads(release_text(stored))
            rows = body.pop("sealed_rows")
            return body, [{**r, "sealed": base64.b64decode(r["sealed"])} for r in rows]
        if agreement["state"] != "active" or run["terms_hash"] != agreement["terms_hash"]:
            raise FailedPrecondition(
                f"run {run['run_id']} ran under terms {run['terms_hash'][:12]}..., and the terms of {agreement_id} are now "
                f"{agreement['terms_hash'][:12]}... ({agreement['state']}); accounts are revealed only under the terms both "
                "parties approve now: map again under them"
            )
        result = json.loads(self.store.row("SELECT body_json FROM results WHERE run_id = ?", [run["run_id"]])["body_json"])
        stored_rows = self.store.rows(
            "SELECT account, their_account, theirs, sealed FROM reveal_rows WHERE run_id = ? AND viewer = ? ORDER BY seq",
            [run["run_id"], caller],
        )
        rows = [
            {"account": int(r["account"]), "their_account": int(r["their_account"]), "theirs": json.loads(r["theirs"]),
             "sealed": bytes(r["sealed"]) if r["sealed"] is not None else b""}
            for r in stored_rows
        ]
        body = {
            "kind": "reveal",
            "agreement_id": agreement_id,
            "run_id": run["run_id"],
            "viewer": caller,
            "other": terms.other(caller),
            "terms_version": int(run["version"]),
            "terms_hash": run["terms_hash"],
            "released_at": now(),
            "min_count": terms.min_count,
            "cells": reveal_cells(terms, caller, result),
            "rows": len(rows),
            "rows_digest": reveal_digest(rows),
        }
        body["signature"] = self.store.signer.sign_json(body).hex()
        sealed_rows = [{**r, "sealed": base64.b64encode(r["sealed"]).decode("ascii")} for r in rows]
        with self.store.transaction() as con:
            self.store.insert_release(con, _new_id("rel"), agreement_id, run["run_id"], caller, "reveal",
                                      json.dumps({**body, "sealed_rows": sealed_rows}, sort_keys=True), now())
            # The release holds the rows now: one copy of the sealed bytes, not two.
            con.execute("DELETE FROM reveal_rows WHERE run_id = ? AND viewer = ?", [run["run_id"], caller])
            released = {k: body[k] for k in ("run_id", "viewer", "cells", "rows", "rows_digest", "terms_hash")}
            self.store.audit(con, "coordinator", "release.reveal", agreement_id, released)
        return body, rows

    def agreements_of_runs(self, run_ids: list[str]) -> list[str]:
        """The distinct agreements of the runs that exist among ``run_ids``, in the order first named."""
        if not run_ids:
            return []
        found = {r["run_id"]: r["agreement_id"] for r in self.store.rows(
            "SELECT run_id, agreement_id FROM runs WHERE run_id IN (SELECT unnest(?))", [run_ids])}
        return list(dict.fromkeys(found[r] for r in run_ids if r in found))

    def audit_denial(self, caller: str, method: str, agreement_id: str | None, code: str, reason: str) -> None:
        self.store.audit_now(caller, "request.denied", agreement_id, {"method": method, "code": code, "reason": reason})
