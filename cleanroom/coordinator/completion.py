"""Completing a run once all four uploads are committed, in named steps.

Overlap run: gather each side's tokens -> count the overlap -> add noise when
the terms set a DP epsilon (only the noisy numbers are kept) -> pick the rows
each viewer may have revealed -> store result, reveal rows and audit entry in
one transaction -> apply zero retention. Attribution run: gather -> link the
vendor's deals to the partner's touches -> store the link -> retention.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cleanroom.coordinator import linkage
from cleanroom.coordinator.agreements import Agreements
from cleanroom.coordinator.canaries import Canaries, reblinding_problem
from cleanroom.coordinator.continual import continual_privatise
from cleanroom.coordinator.joined import ReblindingViolation, joined_overlap
from cleanroom.coordinator.limits import MAX_DENIAL_REASON, bounded
from cleanroom.coordinator.noise import privatise
from cleanroom.coordinator.overlap import OverlapCounts, SideTokens, counts_of_pairs
from cleanroom.coordinator.population_counts import (
    close_to_another,
    population_sizes,
    too_small_populations,
    unmatched_sizes,
)
from cleanroom.coordinator.release_policy import reveal_cells
from cleanroom.coordinator.runs import Runs
from cleanroom.coordinator.sealing import sealed_fields
from cleanroom.coordinator.standing import EVENTS_PER_KEY, Changes, SideChange, Standing
from cleanroom.coordinator.store import Store, Tx, now
from cleanroom.coordinator.store.records import OWN, REBLINDED, RunRow, UploadRow
from cleanroom.coordinator.store.runs import RevealTuple, RunNotCollecting
from cleanroom.coordinator.value_sums import grant_of, value_result
from cleanroom.distinct import distinct_sorted
from cleanroom.errors import CleanroomError, ProtocolError
from cleanroom.psi import POINT_SIZE
from cleanroom.terms import Terms

Uploads = dict[tuple[str, str], UploadRow]  # (party, kind) -> committed upload


class Completion:
    def __init__(self, store: Store, agreements: Agreements, runs: Runs) -> None:
        self._store = store
        self._agreements = agreements
        self._runs = runs
        self._standing = Standing(store)
        # Both parties' last commits can arrive at once: one thread completes a run, the other then sees it complete.
        self._completing = threading.Lock()

    def complete_if_ready(self, run_id: str) -> None:
        """Complete the run if all four uploads are in. Idempotent: a complete or failed run is left as it
        is, so a repeated commit and start-up may both call it. Input only completion can check (deal
        references that repeat, records that do not decode) fails the run with the reason, instead of
        leaving it collecting forever; any other error leaves it collecting, to be retried."""
        with self._completing:
            ready = self._ready(run_id)
            if ready is None:
                return
            run, terms, by = ready
            try:
                if run.purpose == "attribution":
                    self._complete_attribution(run, terms, by)
                else:
                    self._complete_overlap(run, terms, by)
            except CleanroomError as exc:
                self.fail(run, str(exc), exc.party if isinstance(exc, ReblindingViolation) else None)
            except RunNotCollecting:
                return  # revoked or failed while it was joined: that stands, and nothing was stored
            # The file is rewritten so that the deleted points leave it. A continuous agreement's rewrite also
            # takes in its standing tables' changes (0.14 s at a million accounts a side, every epoch): it is
            # made a second later, once the parties have read the release (connection.CHECKPOINT_DELAY).
            if terms.continuous:
                self._store.checkpoint_soon()
            elif terms.retention_seconds == 0:
                self._store.checkpoint()

    def resume(self) -> list[str]:
        """Complete every run whose uploads all arrived but whose completion never ran (the coordinator
        stopped in between); the runs completed or failed."""
        settled = []
        for run_id in self._store.runs.collecting():
            self.complete_if_ready(run_id)
            if self._runs.get(run_id).state != "collecting":
                settled.append(run_id)
        return settled

    def fail_collecting(self, run_id: str, reason: str) -> None:
        """Fail a run from outside its completion (a party's secret changed), under the completion lock and only
        while it still collects: a run completing meanwhile stands as completed."""
        with self._completing:
            run = self._runs.get(run_id)
            if run.state == "collecting":
                self.fail(run, reason)

    def fail(self, run: RunRow, reason: str, violator: str | None = None) -> None:
        """The run fails: nothing is released from it, its points are deleted, a new run may start."""
        reason = bounded(reason, MAX_DENIAL_REASON)
        with self._store.transaction() as con:
            if violator is not None:  # a party deviated from the protocol: on the record, by name
                self._store.audit(
                    con,
                    "coordinator",
                    "protocol.violation",
                    run.agreement_id,
                    {"run_id": run.run_id, "party": violator, "reason": reason},
                )
            self._store.runs.fail(con, run.run_id, reason, now())
            self._store.audit(con, "coordinator", "run.failed", run.agreement_id, {"run_id": run.run_id, "reason": reason})
            self._runs.delete_points(con, run.run_id, run.agreement_id, "run failed")

    def _ready(self, run_id: str) -> tuple[RunRow, Terms, Uploads] | None:
        """The run, its terms and its four committed uploads, if it is still collecting and has them all."""
        uploads = self._store.uploads.all_of_run(run_id, committed_only=True)
        if len(uploads) < 4:
            return None
        run = self._runs.get(run_id)
        if run.state != "collecting":
            return None
        return run, self._agreements.terms_by_id(run.agreement_id), {(u.party, u.kind): u for u in uploads}

    def _side_tokens(self, own: UploadRow, reblinded: UploadRow) -> SideTokens:
        """One side's doubly blinded tokens (the other party's re-blinding of its points) with its labels,
        the canary pairs left out. The re-blinding is checked here, where it is read, before anything is
        counted (canaries.py): a dishonest one raises ReblindingViolation naming the re-blinder."""
        tokens = self._store.uploads.points(reblinded.upload_id)
        canaries = Canaries.of_upload(self._store, own)
        problem = reblinding_problem(canaries, tokens)
        if problem is not None:
            raise ReblindingViolation(
                reblinded.party, f"{reblinded.party}'s re-blinding of {own.party}'s points fails the check: {problem}"
            )
        labels = self._store.uploads.labels(own.upload_id)
        accounts = np.frombuffer(b"".join(bytes(c.accounts or b"") for c in labels), dtype="<u4")
        populations = np.frombuffer(b"".join(bytes(c.populations or b"") for c in labels), dtype="<u2")
        if canaries is not None:
            keep = canaries.keep(len(accounts))
            tokens = np.frombuffer(tokens, dtype=np.uint8).reshape(-1, POINT_SIZE)[keep].tobytes()
            accounts, populations = accounts[keep], populations[keep]
        return SideTokens(tokens=tokens, accounts=accounts, populations=populations, total_accounts=int(own.total_accounts))

    def _completed(self, con: Tx, run: RunRow, result: dict[str, Any], details: dict[str, Any], seq: int | None = None) -> None:
        """Store a run's result, mark it complete (a continuous run: as release ``seq``) and audit run.completed
        with ``details``, the run and its terms hash."""
        self._store.runs.insert_result(con, run.run_id, run.agreement_id, result, now())
        self._store.runs.complete(con, run.run_id, now(), seq)
        audited = {"run_id": run.run_id, **details, "terms_hash": run.terms_hash}
        self._store.audit(con, "coordinator", "run.completed", run.agreement_id, audited)

    # -- overlap -----------------------------------------------------------------------------

    def _complete_overlap(self, run: RunRow, terms: Terms, by: Uploads) -> None:
        a, b = terms.parties
        if terms.continuous:
            side_a = self._side_tokens(by[(a, OWN)], by[(b, REBLINDED)])
            side_b = self._side_tokens(by[(b, OWN)], by[(a, REBLINDED)])
            self._complete_continuous(run, terms, by, {a: side_a, b: side_b})
            return
        # Joined in the store's DuckDB, under its memory limit (joined.py): neither side's tokens come into Python.
        sides = ((by[(a, OWN)], by[(b, REBLINDED)]), (by[(b, OWN)], by[(a, REBLINDED)]))
        pops = (len(terms.populations[a]), len(terms.populations[b]))
        joined = joined_overlap(self._store, sides, pops)
        masks = {a: _without_small_filtered(terms, a, joined.masks[0]), b: _without_small_filtered(terms, b, joined.masks[1])}
        counts = joined.counts
        if any(masks[p] is not m for p, m in zip((a, b), joined.masks, strict=True)):  # a filter population emptied
            counts = counts_of_pairs(counts.pairs, (masks[a], masks[b]), (counts.a_accounts, counts.b_accounts), pops)
        result = _overlap_result(terms, counts, greenfield=_greenfield(terms, masks, counts))
        if any(grant_of(terms, p) for p in terms.parties):  # pipeline value: encrypted sums only, never an amount
            own = {p: by[(p, OWN)] for p in (a, b)}
            result["pipeline_value"] = value_result(self._store, terms, own, masks, counts, result)
        reveal = self._reveal_rows(terms, (masks[a], masks[b]), counts, result, by) if terms.reveals() else {}
        with self._store.transaction() as con:
            for viewer, rows in reveal.items():
                self._store.runs.insert_reveal_rows(con, run.run_id, run.agreement_id, viewer, rows)
            details: dict[str, Any] = {"accounts": result["accounts"]}
            if reveal:
                details["reveal_rows"] = {viewer: len(rows) for viewer, rows in reveal.items()}
            self._completed(con, run, result, details)
            self._runs.retain(con, run, terms)

    def _complete_continuous(self, run: RunRow, terms: Terms, by: Uploads, sides: dict[str, SideTokens]) -> None:
        """A continuous agreement's run: change the standing tokens as each upload says, count everything that
        now stands, release it (under DP through the continual counter), and delete the run's points: the
        double-blinded tokens stand in the store instead, until revocation."""
        changes = {}
        for party in terms.parties:
            stored = self._store.standing.changes(by[(party, OWN)].upload_id)
            if stored is None:  # an upload begun before the agreement's runs were continuous cannot be one
                raise ProtocolError(f"{party}'s upload names no base run or secret tag; map again with a current client")
            own = by[(party, OWN)]
            changes[party] = SideChange(Changes.parse(stored, len(terms.populations[party])), sides[party], own.upload_id)
        seq = self._store.runs.completed_count(run.agreement_id, "overlap") + 1
        with self._store.transaction() as con:
            counts = self._standing.apply(con, run, terms, changes)
            result = _overlap_result(terms, counts, continual=self._continual(con, run.agreement_id, terms, seq))
            sent = {p: "everything" if c.changes.full else f"changes to run {c.changes.base_run_id}" for p, c in changes.items()}
            self._completed(con, run, result, {"accounts": result["accounts"], "release": seq, "sent": sent}, seq)
            self._runs.delete_points(con, run.run_id, run.agreement_id, "continuous: the double-blinded tokens stand instead")

    def _continual(self, con: Tx, agreement_id: str, terms: Terms, seq: int) -> Continual | None:
        """Under DP on a continuous agreement: the release's place and the tree nodes' noise drawn so far;
        new nodes are stored in ``con`` as they are drawn."""
        if terms.dp_epsilon is None:
            return None
        return Continual(
            seq,
            self._store.standing.tree_nodes(agreement_id),
            lambda nodes: self._store.standing.insert_tree_nodes(con, agreement_id, nodes),
        )

    def _reveal_rows(
        self,
        terms: Terms,
        side_masks: tuple[np.ndarray, np.ndarray],
        counts: OverlapCounts,
        result: dict[str, Any],
        by: Uploads,
    ) -> dict[str, list[RevealTuple]]:
        """Per viewer with a reveal grant: (its account, the other's account, the other's populations
        on granted pairs, the other's sealed fields) for every matched pair on a pair the release policy
        shows (``release_policy.reveal_cells``: at least min_count, and not suppressed as a complement)."""
        a, b = terms.parties
        masks = {a: side_masks[0], b: side_masks[1]}
        out: dict[str, list[RevealTuple]] = {}
        for viewer in (a, b):
            if terms.reveal_granted(viewer):
                other = terms.other(viewer)
                pairs = counts.pairs if viewer == a else counts.pairs[:, ::-1]
                shown = {(c["mine"], c["theirs"]) for c in reveal_cells(terms, viewer, result) if not c["suppressed"]}
                sealed = sealed_fields(self._store, by[(other, OWN)])
                out[viewer] = _viewer_rows(terms, viewer, shown, pairs, counts.component, (masks[viewer], masks[other]), sealed)
        return out

    # -- attribution -------------------------------------------------------------------------

    def _complete_attribution(self, run: RunRow, terms: Terms, by: Uploads) -> None:
        """Link the vendor's deal accounts to the partner's touched accounts; keep only linked touches."""
        vendor, partner = terms.vendor, terms.partner()
        assert vendor is not None  # an attribution run's terms name the vendor (begin_upload checked)
        side_v = self._side_tokens(by[(vendor, OWN)], by[(partner, REBLINDED)])
        side_p = self._side_tokens(by[(partner, OWN)], by[(vendor, REBLINDED)])
        records = self._store.uploads.records
        linked = linkage.link(side_v, side_p, records(by[(vendor, OWN)].upload_id), records(by[(partner, OWN)].upload_id))
        body: dict[str, Any] = {
            "purpose": "attribution",
            "vendor": vendor,
            "partner": partner,
            "deals": len(linked.deals),
            "linked_accounts": len(distinct_sorted(linked.touches["account"])),
            "touches": len(linked.touches),
            "deals_digest": linked.deals_digest,
        }
        with self._store.transaction() as con:
            self._store.runs.insert_link(con, run.run_id, *linkage.to_blobs(linked))
            details = {k: body[k] for k in ("purpose", "deals", "linked_accounts", "deals_digest")}
            self._completed(con, run, body, details)
            self._runs.retain(con, run, terms)


@dataclass(frozen=True)
class Continual:
    """A continuous agreement's release under DP: its place t, the node noise stored, and where new nodes go."""

    seq: int
    stored: dict[tuple[int, int], list[int]]
    keep: Callable[[dict[tuple[int, int], list[int]]], None]


def _without_small_filtered(terms: Terms, party: str, masks: np.ndarray) -> np.ndarray:
    """``masks`` (a side's population mask by account) with each population the terms define by a filter that
    is too small, or too close to another, counted as empty (population_counts.too_small_populations: why not
    a failed run; close_to_another); the same array when none is."""
    if not terms.raw.get("population_filters", {}).get(party):
        return masks  # (no pass over the accounts for the common case)
    bits = too_small_populations(terms, party, population_sizes(masks, len(terms.populations[party])))
    bits |= close_to_another(terms, party, masks)
    if not bits:
        return masks
    return masks & np.uint16(~bits & 0xFFFF)


def _greenfield(terms: Terms, masks: dict[str, np.ndarray], counts: OverlapCounts) -> dict[str, dict[str, int]]:
    """Per party, its accounts that matched none of the other's, in each of its populations the other is granted."""
    a, _ = terms.parties
    out: dict[str, dict[str, int]] = {}
    for viewer in terms.parties:
        granted, party = terms.greenfield_granted(viewer), terms.other(viewer)
        if granted:
            pops = terms.populations[party]
            sizes = unmatched_sizes(masks[party], counts.pairs[:, 1 if party != a else 0], len(pops))
            out[party] = {p: sizes[pops.index(p)] for p in granted}
    return out


def _overlap_result(
    terms: Terms, counts: OverlapCounts, continual: Continual | None = None, greenfield: dict[str, dict[str, int]] | None = None
) -> dict[str, Any]:
    """The stored result of an overlap run: exact counts, or only noisy ones under DP."""
    a, b = terms.parties
    result: dict[str, Any] = {
        "parties": [a, b],
        "populations": {a: list(terms.populations[a]), b: list(terms.populations[b])},
        "accounts": {a: counts.a_accounts, b: counts.b_accounts},
        "overlap": counts.overlap,
        "matrix": counts.matrix,
    }
    if greenfield:
        result["greenfield"] = greenfield
    if terms.dp_epsilon is not None and continual is not None:
        assert terms.dp_horizon is not None  # parse_terms gives every continuous DP agreement a horizon
        release = continual_privatise(
            counts.matrix,
            counts.overlap,
            continual.seq,
            terms.dp_epsilon,
            terms.dp_horizon,
            counts.a_accounts,
            counts.b_accounts,
            continual.stored,
            events=EVENTS_PER_KEY * len(terms.key_kinds),
        )
        continual.keep(release.new_nodes)
        result.update(
            matrix=release.matrix,
            overlap=release.overlap,
            dp={"epsilon": terms.dp_epsilon, "scale": release.scale, "release": continual.seq, "horizon": terms.dp_horizon},
        )
    elif terms.dp_epsilon is not None:
        # Only the noisy numbers are kept: the exact ones never reach the store.
        cells = [(party, pop, n) for party, by_pop in sorted((greenfield or {}).items()) for pop, n in by_pop.items()]
        extra = tuple(n for _, _, n in cells)
        private = privatise(counts.matrix, counts.overlap, terms.dp_epsilon, counts.a_accounts, counts.b_accounts, extra)
        result.update(
            matrix=private["matrix"], overlap=private["overlap"], dp={"epsilon": terms.dp_epsilon, "scale": private["scale"]}
        )
        if cells:  # clamped into what is possible: 0 .. the side's set size (public)
            noisy = zip(cells, private["extra"], strict=True)
            result["greenfield"] = {p: {} for p, _, _ in cells}
            for (party, pop, _), value in noisy:
                result["greenfield"][party][pop] = min(max(value, 0), result["accounts"][party])
    return result


def _viewer_rows(
    terms: Terms,
    viewer: str,
    shown: set[tuple[str, str]],
    pairs: np.ndarray,
    component: np.ndarray,
    masks: tuple[np.ndarray, np.ndarray],
    sealed: dict[int, bytes],
) -> list[RevealTuple]:
    """One viewer's reveal rows: matched pairs on the population pairs the release policy shows it, each
    with the viewer's and the other's populations on those pairs and the company the pair belongs to."""
    other = terms.other(viewer)
    mine_pops, their_pops = terms.populations[viewer], terms.populations[other]
    allowed = {(i, j) for i, m in enumerate(mine_pops) for j, t in enumerate(their_pops) if (m, t) in shown}
    mine_masks, their_masks = masks
    rows = []
    for (mine_acc, their_acc), comp in zip(pairs.tolist(), component.tolist(), strict=True):
        on = [(i, j) for i, j in allowed if int(mine_masks[mine_acc]) >> i & 1 and int(their_masks[their_acc]) >> j & 1]
        if on:
            mine = [m for i, m in enumerate(mine_pops) if any(i == x for x, _ in on)]
            theirs = [t for j, t in enumerate(their_pops) if any(j == y for _, y in on)]
            rows.append(RevealTuple(mine_acc, their_acc, theirs, sealed.get(their_acc, b""), mine, comp))
    return sorted(rows, key=lambda r: (r.account, r.their_account))
