"""What the REST API and the pages may read, per caller: one place for the rules.

The API and the pages call the same methods, so a page shows the very numbers
the API returns.

Released numbers only. The gRPC ``overlap`` call makes a release the first
time a party asks for a run's result (and, under differential privacy, debits
the party's budget). Nothing here does that: the REST layer serves the
releases the coordinator already made and stored, and answers 404 when there
is none yet, naming the client command that makes it. So no dashboard
refresh, script or crawler can spend a privacy budget, and every number a
page shows is one the audit log already records as released.

Every refusal is a ``cleanroom.errors.RequestError``; the app maps them to
HTTP and audits permission denials (``request.denied``) like gRPC does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from typing import Any

from cleanroom.coordinator.audit.export import chain_lines, export_text
from cleanroom.coordinator.audit.report import disclosure_report_from
from cleanroom.auditlog.verify import verify_lines
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.store import now, release_text
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from cleanroom.crypto.signing import load_public_key
from cleanroom.terms import parse_terms
from cleanroom.coordinator.web.auth import Principal


class Denied(PermissionDenied):
    """A permission denial, with the agreement it concerned (for the audit entry)."""

    def __init__(self, message: str, agreement_id: str | None = None) -> None:
        super().__init__(message)
        self.agreement_id = agreement_id


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """The values of a cursor this API handed out; InvalidArgument for anything else."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        if isinstance(values, list) and len(values) == len(types) and all(type(v) is t for v, t in zip(values, types)):
            return values
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidArgument("cursor is not one this API returned; pass next_cursor from the previous page unchanged")


def utc_text(moment: dt.datetime) -> str:
    """A datetime as the store writes times (UTC, ISO 8601, microseconds), so text comparison orders them."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _release_body(body_json: str) -> dict[str, Any]:
    """A stored release's body: attribution releases are stored signed ({release_id, body_json, signature})."""
    stored = json.loads(body_json)
    if isinstance(stored, dict) and "body_json" in stored:
        body = json.loads(stored["body_json"])
        body["signature"] = stored.get("signature")
        return body
    return stored


class WebService:
    def __init__(self, coordinator: Coordinator) -> None:
        self.coord = coordinator
        self.store = coordinator.store
        self.signer = coordinator.store.signer
        self.public_pem: bytes = coordinator.store.signer.public_pem
        self._verified: tuple[tuple[int, str], dict[str, Any]] | None = None
        self._verify_lock = threading.Lock()
        self._cache: dict[tuple, tuple[int, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    # -- roles and parties ---------------------------------------------------

    @staticmethod
    def require(p: Principal, role: str, what: str) -> None:
        if p.role != role and not p.is_admin:
            raise Denied(f"an {p.role} key cannot {what}; that takes a key with role {role} (or admin)")

    def _agreement_row(self, agreement_id: str) -> dict[str, Any]:
        row = self.store.row(
            "SELECT agreement_id, version, proposer, counterparty, terms_json, terms_hash, state, created_at FROM agreements WHERE agreement_id = ?",
            [agreement_id],
        )
        if row is None:
            raise NotFound(f"agreement {agreement_id!r} does not exist")
        return row

    def agreement_row(self, p: Principal, agreement_id: str) -> dict[str, Any]:
        row = self._agreement_row(agreement_id)
        if not p.is_admin and p.party not in (row["proposer"], row["counterparty"]):
            raise Denied(f"party {p.party!r} is not a party to agreement {agreement_id}", agreement_id)
        return row

    def _viewer(self, p: Principal, viewer: str | None, agreement: dict[str, Any] | None = None) -> str:
        """Whose releases to read: the caller's party; an admin may name any party."""
        viewer = viewer or p.party
        if not viewer:
            raise InvalidArgument("this admin key belongs to no party: name the viewer (viewer=PARTY)")
        if viewer != p.party and not p.is_admin:
            raise Denied(
                f"a key of {p.party} reads only {p.party}'s releases, not {viewer}'s",
                agreement["agreement_id"] if agreement else None,
            )
        if agreement is not None and viewer not in (agreement["proposer"], agreement["counterparty"]):
            raise InvalidArgument(f"{viewer!r} is not a party to agreement {agreement['agreement_id']}")
        return viewer

    # -- agreements ----------------------------------------------------------

    def _approvals(self, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = self.store.rows(
            f"SELECT agreement_id, version, terms_hash, party FROM approvals WHERE agreement_id IN ({marks}) ORDER BY approved_at",
            [r["agreement_id"] for r in rows],
        )
        current = {r["agreement_id"]: (r["version"], r["terms_hash"]) for r in rows}
        out: dict[str, list[str]] = {r["agreement_id"]: [] for r in rows}
        for a in found:
            if current[a["agreement_id"]] == (a["version"], a["terms_hash"]):
                out[a["agreement_id"]].append(a["party"])
        return out

    @staticmethod
    def _summary(row: dict[str, Any], approved_by: list[str]) -> dict[str, Any]:
        terms = parse_terms(bytes(row["terms_json"]))
        return {
            "agreement_id": row["agreement_id"],
            "version": int(row["version"]),
            "state": row["state"],
            "proposer": row["proposer"],
            "counterparty": row["counterparty"],
            "parties": [row["proposer"], row["counterparty"]],
            "terms_hash": row["terms_hash"],
            "created_at": row["created_at"],
            "approved_by": approved_by,
            "populations": {party: list(pops) for party, pops in terms.populations.items()},
            "min_count": terms.min_count,
            "min_set_size": terms.min_set_size,
            "dp": None if terms.dp_epsilon is None else {"epsilon": terms.dp_epsilon, "budget": terms.dp_budget},
            "attribution": terms.attribution is not None,
            "vendor": terms.vendor,
        }

    def list_agreements(
        self, p: Principal, *, state: str | None = None, party: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        where, params = [], []
        if not p.is_admin:
            where.append("(proposer = ? OR counterparty = ?)")
            params += [p.party, p.party]
        if party:
            where.append("(proposer = ? OR counterparty = ?)")
            params += [party, party]
        if state:
            where.append("state = ?")
            params.append(state)
        after = decode_cursor(cursor, (str, str))
        if after:
            where.append("(created_at, agreement_id) > (?, ?)")
            params += after
        sql = "SELECT agreement_id, version, proposer, counterparty, terms_json, terms_hash, state, created_at FROM agreements"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.store.rows(sql + " ORDER BY created_at, agreement_id LIMIT ?", [*params, limit + 1])
        page, more = rows[:limit], len(rows) > limit
        approvals = self._approvals(page)
        return {
            "items": [self._summary(r, approvals[r["agreement_id"]]) for r in page],
            "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["agreement_id"]) if more else None,
        }

    def agreement(self, p: Principal, agreement_id: str) -> dict[str, Any]:
        row = self.agreement_row(p, agreement_id)
        detail = self._summary(row, self._approvals([row])[agreement_id])
        detail["terms"] = json.loads(bytes(row["terms_json"]))
        detail["runs"] = self.store.rows(
            "SELECT run_id, purpose, state, version, terms_hash, created_at, completed_at FROM runs WHERE agreement_id = ? ORDER BY created_at",
            [agreement_id],
        )
        # An analyst sees its own party's releases listed; auditors and admins see every viewer's.
        where, params = "agreement_id = ?", [agreement_id]
        if p.role == "analyst":
            where += " AND viewer = ?"
            params.append(p.party)
        detail["releases"] = self.store.rows(
            f"SELECT release_id, kind, viewer, run_id, released_at, epsilon FROM releases WHERE {where} ORDER BY released_at", params
        )
        return detail

    # -- overlap -------------------------------------------------------------

    def latest_complete_run(self, agreement_id: str, purpose: str = "overlap") -> str | None:
        row = self.store.row(
            "SELECT run_id FROM runs WHERE agreement_id = ? AND purpose = ? AND state = 'complete' ORDER BY completed_at DESC LIMIT 1",
            [agreement_id, purpose],
        )
        return row["run_id"] if row else None

    def _version(self) -> int:
        """Changes whenever the store does: every write commits through ``Store.transaction``, which counts them.

        (This process holds the store's file lock, so no other process writes to it.)
        """
        return self.store.generation

    def overlap(self, p: Principal, agreement_id: str, viewer: str | None = None, run_id: str | None = None) -> dict[str, Any]:
        """The hot path (dashboards poll it): kept per caller and arguments until the store changes.

        A new release, a completed run or a revocation each commit a transaction, which
        moves the store's generation, so a cached answer never outlives what it was read from.
        """
        self.require(p, "analyst", "read released overlap counts")
        key = (p.role, p.party, agreement_id, viewer, run_id)
        version = self._version()
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        found = self._overlap(p, agreement_id, viewer, run_id)
        with self._cache_lock:
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = (version, found)
        return found

    def _overlap(self, p: Principal, agreement_id: str, viewer: str | None, run_id: str | None) -> dict[str, Any]:
        agreement = self.agreement_row(p, agreement_id)
        viewer = self._viewer(p, viewer, agreement)
        if agreement["state"] == "revoked":
            raise FailedPrecondition(
                f"agreement {agreement_id} was revoked; nothing more is released under it (its disclosure report still lists what was)"
            )
        sql = "SELECT run_id, body_json, body_zlib FROM releases WHERE agreement_id = ? AND viewer = ? AND kind = 'overlap'"
        params = [agreement_id, viewer]
        if run_id:
            sql += " AND run_id = ?"
            params.append(run_id)
        row = self.store.row(sql + " ORDER BY released_at DESC LIMIT 1", params)
        latest = self.latest_complete_run(agreement_id)
        if row is None:
            if run_id:
                raise NotFound(f"nothing from run {run_id!r} of agreement {agreement_id} has been released to {viewer}")
            how = (
                f"run {latest} is complete; {viewer}'s client makes the release with `cleanroom-client overlap {agreement_id}`"
                if latest
                else "no run of it has completed yet"
            )
            raise NotFound(
                f"no overlap has been released to {viewer} under agreement {agreement_id}: {how}. "
                "This API serves only numbers already released, so it never spends a privacy budget."
            )
        release = json.loads(release_text(row))
        return {
            "agreement_id": agreement_id,
            "viewer": viewer,
            "partner": release.get("other"),
            "release": release,
            "latest_complete_run_id": latest,
            "newer_run_unreleased": latest is not None and latest != row["run_id"] and not run_id,
        }

    def _latest_overlap_releases(self, viewer: str) -> dict[str, dict[str, Any]]:
        rows = self.store.rows(
            """SELECT agreement_id, body_json, body_zlib FROM (
                   SELECT agreement_id, body_json, body_zlib, row_number() OVER (PARTITION BY agreement_id ORDER BY released_at DESC) AS n
                   FROM releases WHERE viewer = ? AND kind = 'overlap') WHERE n = 1""",
            [viewer],
        )
        return {r["agreement_id"]: json.loads(release_text(r)) for r in rows}

    def ranking(self, p: Principal, *, viewer: str | None = None, mine: str | None = None, theirs: str | None = None) -> dict[str, Any]:
        """The viewer's partners ranked by released overlap: one population pair, or the total overlap."""
        self.require(p, "analyst", "read released overlap counts")
        viewer = self._viewer(p, viewer)
        if (mine is None) != (theirs is None):
            raise InvalidArgument("name both populations (mine and theirs) to rank by one cell, or neither to rank by the total overlap")
        agreements = self.store.rows(
            "SELECT agreement_id, proposer, counterparty, state FROM agreements WHERE proposer = ? OR counterparty = ? ORDER BY created_at, agreement_id",
            [viewer, viewer],
        )
        releases = self._latest_overlap_releases(viewer)
        ranked, unavailable = [], []
        pops_mine: dict[str, None] = {}
        pops_theirs: dict[str, None] = {}
        for a in agreements:
            partner = a["counterparty"] if a["proposer"] == viewer else a["proposer"]
            base = {"partner": partner, "agreement_id": a["agreement_id"]}
            release = releases.get(a["agreement_id"])
            if a["state"] == "revoked":
                unavailable.append({**base, "reason": "agreement revoked"})
                continue
            if release is None:
                latest = self.latest_complete_run(a["agreement_id"])
                reason = f"run {latest} complete, not released to {viewer} yet" if latest else "no overlap run completed"
                unavailable.append({**base, "reason": reason})
                continue
            cells = release.get("cells", [])
            for c in cells:
                pops_mine.setdefault(c["mine"])
                pops_theirs.setdefault(c["theirs"])
            if mine is not None:
                cell = next((c for c in cells if c["mine"] == mine and c["theirs"] == theirs), None)
                if cell is None:
                    if all(c["mine"] != mine for c in cells):
                        reason = f"no released cell for your population {mine!r}"
                    elif all(c["theirs"] != theirs for c in cells):
                        reason = f"no released cell for {partner}'s population {theirs!r}"
                    else:
                        reason = "the terms do not release this cell to you"
                    unavailable.append({**base, "reason": reason})
                    continue
                count, suppressed = cell["count"], bool(cell["suppressed"])
            else:
                totals = release["totals"]
                count, suppressed = totals.get("overlap"), bool(totals.get("overlap_suppressed"))
                if count is None and not suppressed:
                    unavailable.append({**base, "reason": "the terms do not release the total overlap to you"})
                    continue
            my_accounts = release["totals"].get("mine")
            ranked.append({
                **base,
                "run_id": release.get("run_id"),
                "released_at": release.get("released_at"),
                "count": count,
                "suppressed": suppressed,
                "min_count": release.get("min_count"),
                "my_accounts": my_accounts,
                "their_accounts": release["totals"].get("theirs"),
                "share_of_mine": (count / my_accounts) if count is not None and my_accounts else None,
                "dp": "dp" in release,
            })
        ranked.sort(key=lambda r: (r["suppressed"], -(r["count"] or 0), r["partner"], r["agreement_id"]))
        for i, r in enumerate(ranked, 1):
            r["rank"] = i
        return {
            "viewer": viewer,
            "mine": mine,
            "theirs": theirs,
            "partners": ranked,
            "unavailable": unavailable,
            "populations": {"mine": sorted(pops_mine), "theirs": sorted(pops_theirs)},
        }

    # -- attribution ---------------------------------------------------------

    def attribution(
        self,
        p: Principal,
        *,
        viewer: str | None = None,
        agreement_id: str | None = None,
        include_deals: bool = False,
        limit: int = 20,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Attribution results released to the viewer, newest first, one item per job."""
        self.require(p, "analyst", "read released attribution results")
        agreement = self.agreement_row(p, agreement_id) if agreement_id else None
        viewer = self._viewer(p, viewer, agreement)
        sql = "SELECT agreement_id, body_json, body_zlib, released_at FROM releases WHERE viewer = ? AND kind = 'attribution'"
        params: list[Any] = [viewer]
        if agreement_id:
            sql += " AND agreement_id = ?"
            params.append(agreement_id)
        rows = self.store.rows(sql + " ORDER BY released_at DESC, release_id", params)
        revoked = {r["agreement_id"] for r in self.store.rows("SELECT agreement_id FROM agreements WHERE state = 'revoked'")}
        after = decode_cursor(cursor, (str, str))
        jobs: dict[str, dict[str, Any]] = {}
        for row in rows:
            body = _release_body(release_text(row))
            job_id = body.get("job_id") or row["agreement_id"]
            if job_id in jobs:
                continue
            vendor_view = "agreements" in body
            ids = [a["agreement_id"] for a in body["agreements"]] if vendor_view else [body.get("agreement_id") or row["agreement_id"]]
            if revoked.intersection(ids):
                continue  # as over gRPC: nothing more is served under a revoked agreement
            deals = body.pop("deals", None)
            signature = body.pop("signature", None)
            if include_deals and deals is not None:
                body["deals"] = deals
            jobs[job_id] = {
                "job_id": job_id,
                "viewer": viewer,
                "view": "vendor" if vendor_view else "partner",
                "model": body.get("model"),
                "as_of": body.get("as_of"),
                "released_at": body.get("released_at") or row["released_at"],
                "agreement_ids": ids,
                "deal_count": len(deals) if deals is not None else None,
                "body": body,
                "signature": signature,
            }
        items = list(jobs.values())
        if after:
            items = [i for i in items if (i["released_at"], i["job_id"]) < tuple(after)]
        items.sort(key=lambda i: (i["released_at"], i["job_id"]), reverse=True)
        page, more = items[:limit], len(items) > limit
        return {
            "viewer": viewer,
            "items": page,
            "next_cursor": encode_cursor(page[-1]["released_at"], page[-1]["job_id"]) if more else None,
        }

    def agreement_attribution(self, p: Principal, agreement_id: str, viewer: str | None = None, include_deals: bool = False) -> dict[str, Any]:
        self.require(p, "analyst", "read released attribution results")
        agreement = self.agreement_row(p, agreement_id)
        viewer = self._viewer(p, viewer, agreement)
        if agreement["state"] == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked; nothing more is released under it")
        if parse_terms(bytes(agreement["terms_json"])).attribution is None:
            raise FailedPrecondition(f"agreement {agreement_id} does not include attribution")
        found = self.attribution(p, viewer=viewer, agreement_id=agreement_id, include_deals=include_deals, limit=1)
        if not found["items"]:
            raise NotFound(f"no attribution result has been released to {viewer} under agreement {agreement_id} yet")
        return found["items"][0]

    # -- audit ---------------------------------------------------------------

    def _visible_audit(self, p: Principal) -> tuple[str, list[Any]]:
        if p.is_admin:
            return "TRUE", []
        return (
            "(agreement_id IN (SELECT agreement_id FROM agreements WHERE proposer = ? OR counterparty = ?) OR (agreement_id IS NULL AND actor = ?))",
            [p.party, p.party, p.party],
        )

    def audit_entries(
        self,
        p: Principal,
        *,
        agreement_id: str | None = None,
        party: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        order: str = "desc",
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        self.require(p, "auditor", "read the audit trail")
        where, params = self._visible_audit(p)
        clauses, values = [where], list(params)
        if agreement_id:
            self.agreement_row(p, agreement_id)
            clauses.append("agreement_id = ?")
            values.append(agreement_id)
        if party:
            clauses.append(
                "(actor = ? OR json_extract_string(details_json, '$.viewer') = ? OR json_extract_string(details_json, '$.party') = ?)"
            )
            values += [party, party, party]
        if action:
            if action.endswith("*"):
                prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append("action LIKE ? ESCAPE '\\'")
                values.append(prefix + "%")
            else:
                clauses.append("action = ?")
                values.append(action)
        if since is not None:
            clauses.append("logged_at >= ?")
            values.append(utc_text(since))
        if until is not None:
            clauses.append("logged_at < ?")
            values.append(utc_text(until))
        after = decode_cursor(cursor, (int,))
        if after:
            clauses.append("seq < ?" if order == "desc" else "seq > ?")
            values.append(after[0])
        rows = self.store.rows(
            "SELECT seq, logged_at, actor, action, agreement_id, details_json, prev_hash, entry_hash, signature FROM audit_log "
            f"WHERE {' AND '.join(clauses)} ORDER BY seq {'DESC' if order == 'desc' else 'ASC'} LIMIT ?",
            [*values, limit + 1],
        )
        page, more = rows[:limit], len(rows) > limit
        return {
            "items": [
                {
                    "seq": int(r["seq"]),
                    "at": r["logged_at"],
                    "actor": r["actor"],
                    "action": r["action"],
                    "agreement_id": r["agreement_id"],
                    "details": json.loads(r["details_json"]),
                    "prev_hash": r["prev_hash"],
                    "entry_hash": r["entry_hash"],
                    "signature": bytes(r["signature"]).hex(),
                }
                for r in page
            ],
            "next_cursor": encode_cursor(int(page[-1]["seq"])) if more else None,
        }

    def audit_actions(self, p: Principal) -> list[str]:
        self.require(p, "auditor", "read the audit trail")
        where, params = self._visible_audit(p)
        return [r["action"] for r in self.store.rows(f"SELECT DISTINCT action FROM audit_log WHERE {where} ORDER BY action", params)]

    def verification(self, p: Principal) -> dict[str, Any]:
        """The whole stored chain checked as `cleanroom audit verify` checks an export: links, hashes, signatures.

        Entries of agreements the caller is not in are checked too (the chain
        is one); problems name only sequence numbers. The result is kept until
        the chain grows: the running coordinator holds the store's file lock,
        so nothing else can change it in between.
        """
        self.require(p, "auditor", "read the audit trail")
        with self._verify_lock:
            with self.store.reading() as con:
                count, head = con.execute(
                    "SELECT count(*), coalesce(max_by(entry_hash, seq), '') FROM audit_log"
                ).fetchone()
                if self._verified and self._verified[0] == (count, head):
                    return dict(self._verified[1])
                lines = list(chain_lines(con, None))
            text, _ = export_text(lines, self.signer, None)
            result = verify_lines(text.splitlines(), load_public_key(self.public_pem))
            seqs = {n: line["seq"] for n, line in enumerate(lines, start=2)}  # line 1 is the header
            status = {
                "status": "verified" if result.ok else "broken",
                "entries": result.entries,
                "head_hash": result.head_hash,
                "checked_at": now(),
                "problems": [{"seq": seqs.get(pr["line"]), "problem": pr["problem"]} for pr in result.problems],
            }
            self._verified = ((count, head), status)
            return dict(status)

    def export(self, p: Principal, agreement_id: str | None) -> tuple[str, str]:
        """The signed JSON Lines export (as `cleanroom audit export`), and a file name."""
        self.require(p, "auditor", "export the audit trail")
        if agreement_id:
            self.agreement_row(p, agreement_id)
        elif not p.is_admin:
            raise InvalidArgument("name the agreement (agreement_id=...): an auditor exports the agreements its party is in")
        with self.store.reading() as con:
            lines = list(chain_lines(con, agreement_id))
        text, _ = export_text(lines, self.signer, agreement_id)
        return text, f"audit-{agreement_id or 'all'}.jsonl"

    def disclosure_report(self, p: Principal, agreement_id: str) -> dict[str, Any]:
        self.require(p, "auditor", "read disclosure reports")
        self.agreement_row(p, agreement_id)
        with self.store.reading() as con:
            report = disclosure_report_from(con, agreement_id)
        if report is None:
            raise NotFound(f"agreement {agreement_id!r} does not exist")
        return report if p.is_admin else self._redact(report, p.party)

    @staticmethod
    def _redact(report: dict[str, Any], party: str) -> dict[str, Any]:
        """What the other party's auditor may see of a viewer's releases.

        A vendor's attribution release covers every partner of the job (each
        partner's credit, single deals' credit, metrics over all of them), and
        is stored under each partner's agreement. A partner's auditor sees only
        the row about its own party and how many deals were credited: a partner
        never learns another partner's figures or a single deal's amount.
        Overlap releases are the same numbers both sides got (transposed) and
        stay whole; other kinds show that they happened, not what they held.
        """
        for viewer in report["viewers"]:
            if viewer["viewer"] == party:
                continue
            for release in viewer["releases"]:
                released = release["released"]
                if release["kind"] == "overlap":
                    continue
                if release["kind"] == "attribution" and "partners" in released:
                    kept: dict[str, Any] = {"partners": [r for r in released["partners"] if r.get("partner") == party]}
                    if "deals" in released:
                        kept["deal_count"] = len(released["deals"])
                    kept["withheld"] = "other partners' figures, single deals' credit and the vendor's ecosystem metrics"
                    release["released"] = kept
                elif release["kind"] != "attribution":
                    release["released"] = {"withheld": f"the content of {release['kind']} releases made to {viewer['viewer']}"}
        return report

    def audit_denial(self, p: Principal, method: str, exc: PermissionDenied) -> None:
        """A refused REST or page request goes into the audit chain, as a refused gRPC call does."""
        details = {"method": method, "code": exc.code, "reason": str(exc), "key_id": p.key_id, "role": p.role}
        self.store.audit_now(p.party or "operator", "request.denied", getattr(exc, "agreement_id", None), details)

    # -- health --------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        self.store.row("SELECT 1 AS ok")
        return {"status": "ok", "store": "ok", "time": now()}
