"""``cleanroom-client agreement propose|show|approve|list|revoke``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cleanroom.attribution.config import MODELS, AttributionConfig
from cleanroom.errors import InputError
from cleanroom.popfilter import Population
from cleanroom.terminal.console import err, out, print_json, print_table
from cleanroom.terminal.durations import parse_duration
from cleanroom.terms import DEFAULT_MIN_COUNT, DEFAULT_MIN_SET_SIZE, build_terms
from cleanroom.terms_privacy import DEFAULT_DP_HORIZON, DEFAULT_EPOCH_SECONDS, MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS
from cleanroom_client.commands._common import add_json, session
from cleanroom_client.features.agreement_view import agreement_dict, print_terms
from cleanroom_client.inputs.custom_populations import parse_options
from cleanroom_client.protocol.agreements import approve, propose, verified_terms
from cleanroom_client.protocol.encryption import EncryptionKeys
from cleanroom_client.protocol.signing import SigningKeys


def _reveal_pairs(value: str | None) -> list[tuple[str, str]] | None:
    """ "customer:prospect,opportunity:customer" -> [("customer", "prospect"), ...] (proposer's population first)."""
    if not value:
        return None
    pairs = []
    for part in _split(value) or []:
        mine, sep, theirs = part.partition(":")
        if not sep or not mine.strip() or not theirs.strip():
            raise InputError(f"--reveal takes YOUR_POPULATION:THEIR_POPULATION pairs such as customer:prospect, not {part!r}")
        pairs.append((mine.strip(), theirs.strip()))
    return pairs


def _columns(value: str | None) -> list[str] | None:
    """Column names separated by commas; None when not given, [] for an explicit empty list."""
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _attribution(args: argparse.Namespace) -> AttributionConfig | None:
    """The attribution settings the flags ask for (None: no attribution)."""
    settings: dict[str, Any] = {}
    if args.attribution_terms:
        path = Path(args.attribution_terms)
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read attribution settings ({exc})") from None
    flags = {
        "model": args.model,
        "lookback_days": args.lookback_days,
        "min_deals": args.min_deals,
        "half_life_days": args.half_life,
        "unassigned": args.unassigned,
    }
    settings.update({k: v for k, v in flags.items() if v is not None})
    if args.role_weights:
        weights = {}
        for part in _split(args.role_weights) or []:
            role, _, weight = part.partition("=")
            weights[role.strip()] = weight.strip()
        settings["role_weights"] = weights
    if not (args.attribution or settings):
        return None
    return AttributionConfig.from_dict(settings)


def _their_populations(args: argparse.Namespace, filters: list[Population]) -> list[str] | None:
    """The partner's populations: as listed (default: the same as ours), plus those our filters define."""
    named = _split(args.their_populations)
    if not filters:
        return named
    theirs = named or _split(args.populations) or []
    return theirs + [p.name for p in filters if p.name not in theirs]


def _propose(args: argparse.Namespace) -> int:
    filters = parse_options(args.their_population, "--their-population")
    with session(args) as (profile, remote):
        attribution = _attribution(args)
        terms = build_terms(
            profile.party,
            args.with_party,
            _split(args.populations) or [],
            _their_populations(args, filters),
            min_count=args.min_count,
            min_set_size=args.min_set_size,
            key_kinds=["domain", "name"] if args.name_key else ["domain"],
            retention_seconds=args.retention,
            dp_epsilon=args.dp_epsilon,
            dp_budget=args.dp_budget,
            attribution=attribution,
            vendor=args.vendor,
            attribution_models=_split(args.allow_models),
            reveal=_reveal_pairs(args.reveal),
            reveal_to={"both": "both", "me": "proposer", "them": "counterparty"}[args.reveal_to],
            share=_columns(args.share),
            their_share=_columns(args.their_share),
            epoch_seconds=_epoch_seconds(args),
            dp_horizon=args.dp_horizon,
            greenfield=_split(args.greenfield),
            their_filters={p.name: p.text for p in filters} or None,
        )
        reveals = bool(args.reveal)
        agreement = propose(remote, profile, args.with_party, terms, reveals)
    if args.json:
        print_json(agreement_dict(agreement))
    else:
        out.print(f"proposed agreement {agreement.agreement_id} to {args.with_party}")
        out.print(f"terms hash {agreement.terms_hash}")
        out.print(
            f"your upload-signing key fingerprint: {SigningKeys(profile.path).fingerprint()} (read it to {args.with_party} before the first run)"
        )
        if reveals:
            out.print(
                f"your encryption key fingerprint: {EncryptionKeys(profile.path).fingerprint()} (read it to {args.with_party} before the first run)"
            )
    return 0


def _show(args: argparse.Namespace) -> int:
    with session(args) as (_, remote):
        agreement = remote.get(args.id)
    if args.json:
        print_json(agreement_dict(agreement))
    else:
        print_terms(agreement, verified_terms(agreement))
    return 0


def _approve(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        approval = approve(remote, profile, args.id, args.terms_hash, _columns(args.share))
    agreement, me = approval.agreement, profile.party
    peer = approval.terms.other(me)
    if args.json:
        print_json(agreement_dict(agreement))
        return 0
    if approval.amended:
        cols = ", ".join(_columns(args.share) or []) or "nothing"
        out.print(
            f"amended agreement {agreement.agreement_id}: you share {cols}; version {agreement.version}, terms hash {agreement.terms_hash}, "
            f"approved by you. {peer} must approve these terms too: cleanroom-client agreement approve {agreement.agreement_id}"
        )
    else:
        out.print(f"approved agreement {agreement.agreement_id} (terms hash {agreement.terms_hash}); state {agreement.state}")
    peer_signing = next((k.fingerprint for k in agreement.signing if k.party == peer), "not given yet")
    out.print(
        f"upload-signing key fingerprints: yours {SigningKeys(profile.path).fingerprint()}; {peer} {peer_signing} "
        "(compare them out of band: you re-blind only points signed with that key)"
    )
    if approval.reveals:
        out.print(
            f"encryption key fingerprints: yours {EncryptionKeys(profile.path).fingerprint()}; {peer} "
            f"{approval.peer_fingerprint or 'not given yet'} (compare them out of band)"
        )
        if approval.terms.reveal_granted(peer) and not verified_terms(agreement).shared_columns(me):
            err.print(
                f"note: you share no columns: {peer} will see which of its accounts you also have, with your populations, "
                "but no fields (add them with --share COL[,COL...])",
                markup=False,
            )
    return 0


def _list(args: argparse.Namespace) -> int:
    with session(args) as (_, remote):
        agreements = remote.list()
    if args.json:
        print_json({"agreements": [agreement_dict(a) for a in agreements]})
    else:
        print_table(
            "Agreements",
            ["agreement", "version", "state", "proposer", "counterparty", "approved by"],
            [[a.agreement_id, a.version, a.state, a.proposer, a.counterparty, ", ".join(a.approved_by)] for a in agreements],
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with session(args) as (_, remote):
        agreement = remote.revoke(args.id, args.reason or "")
    if args.json:
        print_json(agreement_dict(agreement))
    else:
        out.print(f"agreement {agreement.agreement_id} revoked; its uploaded points were deleted")
    return 0


def _add_attribution_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("attribution (crediting partners on the vendor's matched deals)")
    g.add_argument("--attribution", action="store_true", help="include attribution, with the defaults unless set below")
    g.add_argument("--vendor", metavar="PARTY", help="whose deals are credited (default: the proposer)")
    g.add_argument("--model", choices=MODELS, help="the agreed model (default role-split)")
    g.add_argument("--allow-models", metavar="M[,M...]", help="models the vendor may also run for its own view (default: all)")
    g.add_argument("--lookback-days", type=int, help="touches count this many days before close (default 365)")
    g.add_argument(
        "--role-weights", metavar="ROLE=W[,...]", help="role-split weights, e.g. sourcing=0.5,technical=0.2,influence=0.3"
    )
    g.add_argument("--half-life", metavar="DAYS", help="time-decay half-life (default 30)")
    g.add_argument("--unassigned", choices=("redistribute", "keep"), help="weight of roles nobody holds (default redistribute)")
    g.add_argument("--min-deals", type=int, help="a partner's figures are released from this many deals (default 5)")
    g.add_argument("--terms", dest="attribution_terms", metavar="FILE", help="JSON file with the attribution settings")


def _add_reveal_options(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("account-level reveal (co-sell targets; fields sealed end to end)")
    r.add_argument(
        "--reveal",
        metavar="MINE:THEIRS[,...]",
        help="population pairs on which each side learns which of its OWN accounts the other has, e.g. customer:prospect "
        "(your population first; the partner's grant is the pair turned round). Default: counts only",
    )
    r.add_argument("--reveal-to", choices=("both", "me", "them"), default="both", help="who is granted the reveal (default both)")
    r.add_argument(
        "--share",
        metavar="COL[,COL...]",
        help="columns of your file you share on revealed accounts, e.g. 'Account Owner,Last Activity'",
    )
    r.add_argument(
        "--their-share", metavar="COL[,COL...]", help="the partner's shared columns as you propose them (it may amend them)"
    )


def _epoch_seconds(args: argparse.Namespace) -> int | None:
    """The epoch of a continuous agreement in whole seconds (None: one-off runs)."""
    if args.epoch is not None and not args.continuous:
        raise InputError("--epoch sets how often a continuous agreement releases: add --continuous")
    if not args.continuous:
        return None
    seconds = parse_duration(args.epoch) if args.epoch is not None else DEFAULT_EPOCH_SECONDS
    if seconds != int(seconds) or not MIN_EPOCH_SECONDS <= seconds <= MAX_EPOCH_SECONDS:
        raise InputError(f"--epoch {args.epoch}: an epoch is whole seconds, from 1s to 366d")
    return int(seconds)


def _register_propose(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser("propose", help="propose terms to a partner")
    p.add_argument("--with", dest="with_party", required=True, metavar="PARTY")
    p.add_argument("--populations", required=True, help="populations you bring, e.g. customer,prospect,opportunity")
    p.add_argument("--their-populations", help="populations the partner brings (default: the same)")
    p.add_argument(
        "--min-count", type=int, default=DEFAULT_MIN_COUNT, help=f"smallest count released (default {DEFAULT_MIN_COUNT})"
    )
    p.add_argument(
        "--min-set-size",
        type=int,
        default=DEFAULT_MIN_SET_SIZE,
        help=f"smallest set either side may upload (default {DEFAULT_MIN_SET_SIZE})",
    )
    p.add_argument("--name-key", action="store_true", help="also match on normalised company name + country")
    p.add_argument(
        "--dp-epsilon", type=float, help="add discrete Laplace noise to released counts, costing this epsilon per release"
    )
    p.add_argument("--dp-budget", type=float, help="total epsilon each party may spend on this agreement (default: one release)")
    p.add_argument(
        "--retention",
        type=int,
        default=0,
        metavar="SECONDS",
        help="keep a finished run's points this long (default 0: delete at once)",
    )
    p.add_argument(
        "--continuous",
        action="store_true",
        help="always-on mapping: the coordinator keeps the double-blinded tokens and each map sends only what changed",
    )
    p.add_argument(
        "--epoch",
        metavar="DURATION",
        help="continuous: at most one release per epoch, e.g. 30s, 15m, 6h, 1d (default 1d)",
    )
    p.add_argument(
        "--dp-horizon",
        type=int,
        metavar="N",
        help=f"continuous with --dp-epsilon: releases the epsilon covers (default {DEFAULT_DP_HORIZON}; "
        "noise grows with log2 N, the loss of N releases stays epsilon)",
    )
    _add_attribution_options(p)
    _add_reveal_options(p)
    _add_greenfield_options(p)
    add_json(p)
    p.set_defaults(handler=_propose)


def _add_greenfield_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--their-population",
        action="append",
        metavar="NAME=FILTER",
        help="a population of the partner defined by your filter over its file's columns, e.g. your ideal customer "
        "profile: icp='Employees >= 1000 and Region = \"EMEA\"' (repeatable). The filter is part of the terms: the "
        "partner sees it, approves it, and its client evaluates it on its own rows",
    )
    p.add_argument(
        "--greenfield",
        metavar="POP[,POP]",
        help="partner populations on which you learn how many of its accounts you do not have (a count, under the "
        "same guardrails and noise as the overlap)",
    )


def _register_show(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser("show", help="show an agreement's terms")
    p.add_argument("id")
    add_json(p)
    p.set_defaults(handler=_show)


def _register_approve(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser("approve", help="approve the exact terms shown")
    p.add_argument("id")
    p.add_argument("--terms-hash", help="the hash you reviewed (default: the one shown now)")
    p.add_argument(
        "--share",
        metavar="COL[,COL...]",
        help="the columns you share on revealed accounts ('' for none). When they differ from the terms, you approve "
        "amended terms (a new version) that the other party must approve too",
    )
    add_json(p)
    p.set_defaults(handler=_approve)


def _register_list(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser("list", help="list your agreements")
    add_json(p)
    p.set_defaults(handler=_list)


def _register_revoke(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser("revoke", help="revoke an agreement: no further runs, its points deleted")
    p.add_argument("id")
    p.add_argument("--reason")
    add_json(p)
    p.set_defaults(handler=_revoke)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("agreement", help="propose, inspect, approve and revoke agreements")
    asub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for add in (_register_propose, _register_show, _register_approve, _register_list, _register_revoke):
        add(asub)
