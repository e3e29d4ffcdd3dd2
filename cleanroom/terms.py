"""Agreement terms: building, canonical serialisation, hashing and validation.

Pure functions shared by the coordinator and the client. Both parties approve
the SHA-256 of the canonical JSON, so the serialisation is fixed: UTF-8,
sorted keys, no insignificant whitespace. Any change to the terms changes the
hash, and an approval of an old hash approves nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, cast

from cleanroom.attribution.config import MODELS, AttributionConfig
from cleanroom.errors import InvalidArgument
from cleanroom.terms_checks import int_field, require
from cleanroom.terms_greenfield import add_greenfield, greenfield_granted, parse_greenfield
from cleanroom.terms_privacy import (
    parse_continuous,
    parse_dp,
    privacy_and_schedule,
)

SCHEMA = "cleanroom.terms/v1"
DEFAULT_MIN_COUNT = 5
DEFAULT_MIN_SET_SIZE = 50
KEY_KINDS = ("domain", "name")
# What a key's hash to the curve binds besides the key (cleanroom_client.protocol.prepare.hash_context):
# "agreement" (the agreement and key kind: terms without the field, proposed before 2026-12) or "kind" (the
# key kind only). Unlinkability across agreements comes from the per-agreement secrets either way; hashing
# by kind lets a party with many agreements hash each key once (``map --all``) instead of once per agreement.
HASH_SCOPES = ("agreement", "kind")
MAX_POPULATIONS = 16  # population labels travel as a uint16 bit mask per point
POPULATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_SHARED_COLUMNS = 32
MAX_COLUMN_LENGTH = 128
REVEAL_TO = ("both", "proposer", "counterparty")


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def terms_hash(terms_json: bytes) -> str:
    return hashlib.sha256(terms_json).hexdigest()


@dataclass(frozen=True)
class Terms:
    """Validated terms of one agreement version."""

    parties: tuple[str, str]  # proposer, counterparty
    populations: dict[str, tuple[str, ...]]
    key_kinds: tuple[str, ...]
    min_count: int
    min_set_size: int
    release: dict[str, dict[str, Any]]
    retention_seconds: int
    raw: dict[str, Any]
    dp_epsilon: float | None = None  # per release, when differential privacy is on
    dp_budget: float | None = None  # per viewer and agreement
    attribution: AttributionConfig | None = None  # partner attribution, when both sides agreed to it
    vendor: str | None = None  # the party whose deals are credited (attribution only)
    attribution_models: tuple[str, ...] = ()  # models the vendor may run for its own view
    # Continuous agreements: the coordinator keeps the double-blinded tokens between runs and each run sends
    # only what changed; at most one release per epoch. None: every run is a full, independent one.
    epoch_seconds: int | None = None
    dp_horizon: int | None = None  # continuous + DP: releases the tree counter covers (continual.py)
    hash_scope: str = "agreement"  # HASH_SCOPES

    @property
    def continuous(self) -> bool:
        return self.epoch_seconds is not None

    def partner(self) -> str:
        """The party whose touches are credited (attribution only)."""
        assert self.vendor is not None
        return self.other(self.vendor)

    def other(self, party: str) -> str:
        a, b = self.parties
        return b if party == a else a

    def cells_granted(self, viewer: str) -> set[tuple[str, str]]:
        """Population pairs (viewer's, other's) whose counts the viewer may see."""
        grant = self.release.get(viewer, {}).get("overlap_cells", [])
        mine, theirs = self.populations[viewer], self.populations[self.other(viewer)]
        if grant == "all":
            return {(m, t) for m in mine for t in theirs}
        return {(m, t) for m, t in grant}

    def totals_granted(self, viewer: str) -> bool:
        return bool(self.release.get(viewer, {}).get("totals", False))

    def reveal_granted(self, viewer: str) -> set[tuple[str, str]]:
        """Population pairs (viewer's, other's) on which the viewer learns which of its OWN accounts
        the other side also has, with the columns the other side shares. Default: none."""
        return {(m, t) for m, t in self.release.get(viewer, {}).get("reveal", [])}

    def shared_columns(self, party: str) -> tuple[str, ...]:
        """The columns of its own rows ``party`` shares, sealed to the other side, on granted pairs."""
        return tuple(self.raw.get("share", {}).get(party, ()))

    def greenfield_granted(self, viewer: str) -> tuple[str, ...]:
        """The other party's populations whose accounts the viewer does not have it may count (greenfield)."""
        return greenfield_granted(self.release, viewer)

    def reveals(self) -> bool:
        return any(self.reveal_granted(p) for p in self.parties)


def build_terms(
    proposer: str,
    counterparty: str,
    populations: list[str],
    their_populations: list[str] | None = None,
    *,
    min_count: int = DEFAULT_MIN_COUNT,
    min_set_size: int = DEFAULT_MIN_SET_SIZE,
    key_kinds: list[str] | None = None,
    retention_seconds: int = 0,
    dp_epsilon: float | None = None,
    dp_budget: float | None = None,
    attribution: AttributionConfig | None = None,
    vendor: str | None = None,
    attribution_models: list[str] | None = None,
    reveal: list[tuple[str, str]] | None = None,
    reveal_to: str = "both",
    share: list[str] | None = None,
    their_share: list[str] | None = None,
    epoch_seconds: int | None = None,
    dp_horizon: int | None = None,
    greenfield: list[str] | None = None,  # counterparty populations whose greenfield count the proposer sees
    their_filters: dict[str, str] | None = None,  # counterparty populations the proposer defines by a filter
) -> dict[str, Any]:
    """Terms a proposer offers: by default both sides see every cell and the totals. ``reveal``: population
    pairs (proposer's, counterparty's) with account-level reveal for ``reveal_to`` (both by default; the
    counterparty's grant is the pair transposed); ``share``, ``their_share``: each side's shared columns
    (the counterparty may still change its own when it approves, making new terms both approve)."""
    terms: dict[str, Any] = {
        "schema": SCHEMA,
        "parties": [proposer, counterparty],
        "populations": {proposer: list(populations), counterparty: list(their_populations or populations)},
        "key_kinds": list(key_kinds or ["domain"]),
        "guardrails": {"min_count": min_count, "min_set_size": min_set_size},
        "release": {
            proposer: {"overlap_cells": "all", "totals": True},
            counterparty: {"overlap_cells": "all", "totals": True},
        },
        "retention_seconds": retention_seconds,
        "hash_scope": "kind",
    }
    terms.update(privacy_and_schedule(dp_epsilon, dp_budget, epoch_seconds, dp_horizon))
    if attribution is not None:
        terms["attribution"] = {
            "vendor": vendor or proposer,
            "settings": attribution.to_dict(),
            "models": list(attribution_models or MODELS),
        }
    if reveal:
        _grant_reveal(
            terms["release"], proposer, counterparty, populations, list(their_populations or populations), reveal, reveal_to
        )
    add_greenfield(terms, proposer, counterparty, greenfield, their_filters)
    shares = {party: list(cols) for party, cols in ((proposer, share), (counterparty, their_share)) if cols}
    if shares:
        terms["share"] = shares
    parse_terms(canonical_json(terms))  # fail early, on the proposer's machine
    return terms


def _grant_reveal(
    release: dict[str, dict[str, Any]],
    proposer: str,
    counterparty: str,
    populations: list[str],
    theirs_pops: list[str],
    reveal: list[tuple[str, str]],
    reveal_to: str,
) -> None:
    """Add account-level reveal of ``reveal``'s pairs to the release of ``reveal_to`` (transposed for the counterparty)."""
    if reveal_to not in REVEAL_TO:
        raise InvalidArgument(f"terms: reveal_to must be one of {', '.join(REVEAL_TO)}, not {reveal_to!r}")
    pairs = [list(p) for p in dict.fromkeys(tuple(p) for p in reveal)]
    for mine, theirs in pairs:
        if mine not in populations or theirs not in theirs_pops:
            raise InvalidArgument(
                f"terms: reveal pair {mine}:{theirs} must name one of your populations ({', '.join(populations)}) "
                f"and then one of {counterparty}'s ({', '.join(theirs_pops)})"
            )
    if reveal_to in ("both", "proposer"):
        release[proposer]["reveal"] = pairs
    if reveal_to in ("both", "counterparty"):
        release[counterparty]["reveal"] = [[t, m] for m, t in pairs]


def amend_share(terms_json: bytes, party: str, columns: list[str]) -> bytes:
    """The terms with ``party``'s shared columns replaced by ``columns`` (canonical, validated).

    The one change a party may make to proposed terms when it approves them:
    what it shares itself. Any change makes new terms (a new hash) that both
    parties must approve again.
    """
    terms = parse_terms(terms_json)
    require(party in terms.parties, f"{party!r} is not a party to these terms")
    raw = json.loads(terms_json)
    share = dict(raw.get("share", {}))
    if columns:
        share[party] = list(columns)
    else:
        share.pop(party, None)
    if share:
        raw["share"] = share
    else:
        raw.pop("share", None)
    amended = canonical_json(raw)
    parse_terms(amended)
    return amended


def column_norm(column: str | None) -> str:
    """How a share list names a column of the party's file: case, spaces, '_' and '-' do not matter.

    Deliberately narrower than the client's header recognition (``cleanroom_client.inputs.headers.norm``,
    which ignores all punctuation to find key columns under any spelling): this rule decides which
    column's values leave the machine, so "Phone" must not also mean "Phone #".
    """
    return re.sub(r"[\s_\-\ufeff]+", "", (column or "").casefold())


def load_json(data: bytes, what: str) -> Any:
    """JSON a caller sent; InvalidArgument naming ``what`` when it is not UTF-8 JSON or nests too deeply
    (1,000 brackets made the decoder raise RecursionError, answered INTERNAL: found by fuzz/targets/terms.py)."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"{what}: not valid UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgument(f"{what}: JSON nested too deeply to be read (terms nest a few levels)") from None


# Terms are a page of settings (populations, grants, shares, attribution): far under this. The ceiling
# keeps one party's proposal from costing every other party's `agreement list` and `sync` megabytes.
MAX_TERMS_BYTES = 256 * 1024


def parse_terms(terms_json: bytes) -> Terms:
    """Validate terms; raises InvalidArgument naming the first problem found."""
    require(len(terms_json) <= MAX_TERMS_BYTES, f"{len(terms_json):,} bytes, over the limit of {MAX_TERMS_BYTES:,}")
    raw = load_json(terms_json, "terms")
    require(isinstance(raw, dict), "must be a JSON object")
    require(canonical_json(raw) == terms_json, "must be canonical JSON (sorted keys, no spaces)")
    require(raw.get("schema") == SCHEMA, f"schema must be {SCHEMA!r}")
    parties = _parse_parties(raw)
    populations = _parse_populations(raw, parties)
    kinds = raw.get("key_kinds")
    require(
        isinstance(kinds, list) and bool(kinds) and all(k in KEY_KINDS for k in kinds) and len(set(kinds)) == len(kinds),
        f"key_kinds must be a non-empty subset of {list(KEY_KINDS)}",
    )
    guard = raw.get("guardrails")
    require(isinstance(guard, dict), "guardrails must be an object")
    min_count = int_field(guard, "min_count", 1)
    min_set_size = int_field(guard, "min_set_size", 1)
    release = _parse_release(raw, parties, populations)
    _check_share(raw, parties, release)
    parse_greenfield(raw, parties, populations, release)
    retention = int_field(raw, "retention_seconds", 0)
    dp_epsilon, dp_budget = parse_dp(raw, release)
    epoch_seconds, dp_horizon = parse_continuous(raw, release)
    attribution, vendor, models = _parse_attribution(raw, parties)
    hash_scope = raw.get("hash_scope", "agreement")
    require(hash_scope in HASH_SCOPES, f"hash_scope must be one of {', '.join(HASH_SCOPES)}")
    return Terms(
        parties=(parties[0], parties[1]),
        populations=populations,
        key_kinds=tuple(kinds),
        min_count=min_count,
        min_set_size=min_set_size,
        release=release,
        retention_seconds=retention,
        raw=raw,
        dp_epsilon=dp_epsilon,
        dp_budget=dp_budget,
        attribution=attribution,
        vendor=vendor,
        attribution_models=models,
        epoch_seconds=epoch_seconds,
        dp_horizon=dp_horizon,
        hash_scope=hash_scope,
    )


def _parse_parties(raw: dict[str, Any]) -> list[str]:
    parties: Any = raw.get("parties")  # JSON: checked below
    require(
        isinstance(parties, list)
        and len(parties) == 2
        and all(isinstance(p, str) and p for p in parties)
        and parties[0] != parties[1],
        "parties must be two different party names",
    )
    return list(parties)


def _parse_populations(raw: dict[str, Any], parties: list[str]) -> dict[str, tuple[str, ...]]:
    pops: Any = raw.get("populations")
    require(isinstance(pops, dict) and set(pops) == set(parties), "populations must name each party's populations")
    populations: dict[str, tuple[str, ...]] = {}
    for party in parties:
        plist = pops[party]
        require(
            isinstance(plist, list) and 0 < len(plist) <= MAX_POPULATIONS,
            f"{party} must bring 1 to {MAX_POPULATIONS} populations",
        )
        require(
            all(isinstance(p, str) and POPULATION.fullmatch(p) for p in plist),
            f"population names of {party} must be lower-case words like 'customer'",
        )
        require(len(set(plist)) == len(plist), f"populations of {party} repeat a name")
        populations[party] = tuple(plist)
    return populations


def _pairs_of(cells: Any, mine: tuple[str, ...], theirs: tuple[str, ...]) -> bool:
    """True when ``cells`` is a list of [viewer's population, other's population] pairs."""
    return isinstance(cells, list) and all(isinstance(c, list) and len(c) == 2 and c[0] in mine and c[1] in theirs for c in cells)


def _parse_release(raw: dict[str, Any], parties: list[str], populations: dict[str, tuple[str, ...]]) -> dict[str, dict[str, Any]]:
    release: Any = raw.get("release")
    require(isinstance(release, dict) and set(release) <= set(parties), "release must be keyed by party")
    for viewer, grant in release.items():
        require(isinstance(grant, dict), f"release of {viewer} must be an object")
        cells = grant.get("overlap_cells", [])
        if cells != "all":
            other = parties[1] if viewer == parties[0] else parties[0]
            require(
                _pairs_of(cells, populations[viewer], populations[other]),
                f"overlap_cells of {viewer} must be 'all' or [[its population, the other's population], ...]",
            )
    for viewer, grant in release.items():
        if "reveal" not in grant:
            continue
        other = parties[1] if viewer == parties[0] else parties[0]
        pairs = grant["reveal"]
        require(
            _pairs_of(pairs, populations[viewer], populations[other]),
            f"reveal of {viewer} must be [[its population, the other's population], ...]",
        )
        require(len({tuple(c) for c in pairs}) == len(pairs), f"reveal of {viewer} repeats a population pair")
    return cast("dict[str, dict[str, Any]]", release)  # checked above


def _check_share(raw: dict[str, Any], parties: list[str], release: dict[str, dict[str, Any]]) -> None:
    share = raw.get("share", {})
    require(isinstance(share, dict) and set(share) <= set(parties), "share must be keyed by party")
    for party, columns in share.items():
        require(
            isinstance(columns, list)
            and 0 < len(columns) <= MAX_SHARED_COLUMNS
            and all(
                isinstance(c, str) and c.strip() == c and 0 < len(c) <= MAX_COLUMN_LENGTH and c.isprintable() for c in columns
            ),
            f"share of {party} must list 1 to {MAX_SHARED_COLUMNS} column names (printable, no surrounding spaces, at most {MAX_COLUMN_LENGTH} characters)",
        )
        require(len({column_norm(c) for c in columns}) == len(columns), f"share of {party} names a column twice")
        other = parties[1] if party == parties[0] else parties[0]
        require(
            bool(release.get(other, {}).get("reveal")),
            f"{party} shares columns, but {other} is granted no account-level reveal to see them",
        )


def _parse_attribution(raw: dict[str, Any], parties: list[str]) -> tuple[AttributionConfig | None, str | None, tuple[str, ...]]:
    attribution = vendor = None
    models: tuple[str, ...] = ()
    if "attribution" in raw:
        section = raw["attribution"]
        require(
            isinstance(section, dict) and set(section) == {"vendor", "settings", "models"},
            "attribution must be an object with vendor, settings and models",
        )
        vendor = section["vendor"]
        require(vendor in parties, f"attribution vendor must be one of the parties, not {vendor!r}")
        try:
            attribution = AttributionConfig.from_dict(section["settings"])
        except InvalidArgument as exc:
            raise InvalidArgument(f"terms: attribution: {exc}") from None
        models = section["models"]
        require(
            isinstance(models, list) and models and all(m in MODELS for m in models) and len(set(models)) == len(models),
            f"attribution models must be a non-empty list drawn from {list(MODELS)}",
        )
        require(attribution.model in models, "attribution models must include the agreed model")
        models = tuple(models)
    return attribution, vendor, models
