"""``cleanroom-client map ID FILE``: normalise, blind, upload, re-blind, wait, print."""

from __future__ import annotations

import argparse
from pathlib import Path

from cleanroom.protocol import MAX_CHUNK_POINTS
from cleanroom.terminal.console import err, out, print_json
from cleanroom_client.inputs.accounts import load_accounts
from cleanroom_client.commands._common import add_json, keystore, receipts, session
from cleanroom_client.protocol.encryption import EncryptionKeys
from cleanroom_client.protocol.mapping import (
    prepare, reblinding_waiting, require_runnable, upload_own, upload_waiting, verified_terms, wait_for_result,
)
from cleanroom_client.features.reveal import RevealError, RevealPlan, fetch_revealed, peer_public_key, save_account_map, seal_upload, shared_headers
from cleanroom_client.features.views import overlap_dict, print_overlap


def add_file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-column", help="column holding the website/domain/e-mail (default: recognised from the headers)")
    parser.add_argument("--name-column", help="column holding the company name")
    parser.add_argument("--population-column", help="column holding the CRM stage/type")
    parser.add_argument("--country-column", help="column holding the country")
    parser.add_argument("--population-map", metavar="FILE", help="JSON file mapping stage values to populations")


def load(args: argparse.Namespace, name_key: bool, keep_fields: bool = True):
    return load_accounts(
        Path(args.file),
        key_column=args.key_column,
        name_column=args.name_column,
        population_column=args.population_column,
        country_column=args.country_column,
        population_map=Path(args.population_map) if args.population_map else None,
        name_key=name_key,
        keep_fields=keep_fields,
    )


def _map(args: argparse.Namespace) -> int:
    with session(args) as (profile, remote):
        agreement = remote.get(args.id)
        terms = verified_terms(agreement)
        require_runnable(agreement)
        plan = RevealPlan.of(terms, profile.party)
        keys = keystore(profile)
        log = receipts(profile)
        # The partner's points already waiting are re-blinded while our file is read (see reblinding_waiting).
        with reblinding_waiting(remote, [agreement], keys, "overlap") as early:
            # map sends keys only, unless the terms reveal accounts: then it seals the shared columns and
            # keeps our own rows (locally) for the accounts that may be revealed to us.
            loaded = load(args, name_key="name" in terms.key_kinds, keep_fields=plan.seals or plan.views)
            # Everything the sealed fields need is checked before anything is blinded or sent.
            headers = shared_headers(plan, loaded, agreement.agreement_id) if plan.seals else {}
            peer_public = peer_public_key(profile, agreement, plan, args.peer_fingerprint) if plan.seals else b""
        prepared = prepare(loaded.accounts, terms, profile.party, agreement.agreement_id, keys.secret(agreement.agreement_id))
        cut = seal_upload(prepared, loaded.accounts, plan, headers, agreement, EncryptionKeys(profile.path), peer_public) if plan.seals else 0
        if not args.json:
            err.print(
                f"{loaded.source}: {loaded.rows_read:,} rows -> {prepared.total_accounts:,} accounts in the agreement's populations "
                f"({len(loaded.rejected):,} rows rejected, {prepared.excluded:,} accounts outside {', '.join(terms.populations[profile.party])})"
            )
            if plan.seals:
                err.print(
                    f"sealed {', '.join(plan.share)} of {len(prepared.sealed):,} {'/'.join(plan.seal_populations)} accounts to {plan.peer}'s key "
                    f"(end to end: the coordinator cannot read them; {plan.peer} sees only the accounts it also has on granted pairs)"
                    + (f"; {cut:,} values longer than 1000 characters were cut" if cut else ""),
                    markup=False,
                )
        receipt = upload_own(remote, agreement, prepared, log, chunk_points=args.chunk_points)
        upload_waiting(remote, agreement, early, receipt.run_id, log)
        if plan.views:
            save_account_map(profile.path, agreement, receipt.run_id, prepared, loaded, plan)
        status = wait_for_result(remote, agreement, keys, log, receipt.run_id, args.wait)
        if status.state != "complete":
            waiting = ", ".join(status.waiting_for) or status.state
            if args.json:
                print_json({"agreement_id": agreement.agreement_id, "run_id": status.run_id, "state": status.state, "waiting_for": list(status.waiting_for)})
            else:
                out.print(f"uploaded {prepared.total_accounts:,} accounts to run {status.run_id}; still waiting for {waiting}.")
                out.print(f"run `cleanroom-client sync {agreement.agreement_id}` or `cleanroom-client overlap {agreement.agreement_id}` later.")
            return 0
        view = overlap_dict(remote.overlap(agreement.agreement_id, status.run_id))
        log.record_release(view)
        problem = None
        if plan.views:
            try:
                revealed = fetch_revealed(remote, profile, agreement, terms, log, status.run_id)
                view["revealed_accounts"] = len(revealed.rows)
            except RevealError as exc:
                problem = view["reveal_error"] = str(exc)
    if args.json:
        print_json(view)
    else:
        print_overlap(view)
        if "revealed_accounts" in view:
            out.print(f"{view['revealed_accounts']:,} of your accounts revealed as co-sell targets: cleanroom-client targets {agreement.agreement_id}")
        if problem:
            err.print(f"error: {problem}", markup=False)
    return 1 if problem else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("map", help="map a CRM export under an agreement and print the overlap")
    p.add_argument("id", help="agreement id")
    p.add_argument("file", help="CSV, Parquet or XLSX export")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for the partner and the result")
    p.add_argument(
        "--chunk-points", type=_chunk_points, default=MAX_CHUNK_POINTS, metavar="N",
        help=f"points per upload chunk (default {MAX_CHUNK_POINTS}; smaller resumes finer on a flaky link)",
    )
    p.add_argument("--peer-fingerprint", metavar="FP",
                   help="the partner's encryption key fingerprint as it told you (out of band); refuse to seal to any other key")
    add_file_options(p)
    add_json(p)
    p.set_defaults(handler=_map)


def _chunk_points(value: str) -> int:
    n = int(value)
    if not 1 <= n <= MAX_CHUNK_POINTS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_CHUNK_POINTS}")
    return n
