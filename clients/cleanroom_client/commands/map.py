"""``cleanroom-client map ID FILE``: normalise, blind, upload, re-blind, wait, print."""

from __future__ import annotations

import argparse
from pathlib import Path

from cleanroom.errors import InputError
from cleanroom.protocol import MAX_CHUNK_POINTS
from cleanroom.terminal.console import err, out, print_json
from cleanroom.terminal.views import print_overlap
from cleanroom_client.commands._common import add_json, print_alerts, session
from cleanroom_client.commands._map_all import map_all_command
from cleanroom_client.commands._read_report import print_read_report
from cleanroom_client.commands._row_cache import row_cache
from cleanroom_client.features.map_workflow import MapReady, ready_map, send_map
from cleanroom_client.inputs.accounts import LoadResult, load_accounts
from cleanroom_client.inputs.custom_populations import check_header, parse_options, with_populations


def add_file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-column", help="column holding the website/domain/e-mail (default: recognised from the headers)")
    parser.add_argument("--name-column", help="column holding the company name")
    parser.add_argument("--population-column", help="column holding the CRM stage/type")
    parser.add_argument("--country-column", help="column holding the country")
    parser.add_argument("--population-map", metavar="FILE", help="JSON file mapping stage values to populations")
    parser.add_argument(
        "--default-population",
        metavar="NAME",
        help="put every account in this population when the file has no stage column (e.g. prospect); "
        "without it such a file is refused",
    )
    parser.add_argument(
        "--population",
        action="append",
        metavar="NAME=FILTER",
        help="a custom population: the accounts whose row passes FILTER, e.g. "
        "emea_ent='Type in (Customer) and Region = \"EMEA\" and Employees >= 1000' (repeatable; "
        "only NAME leaves this machine; the language is in the README)",
    )


def load(args: argparse.Namespace, name_key: bool, keep_fields: bool = True) -> LoadResult:
    custom = parse_options(getattr(args, "population", None))
    check_header(Path(args.file), custom)  # a filter naming a column the file lacks: refused before the read
    loaded = load_accounts(
        Path(args.file),
        key_column=args.key_column,
        name_column=args.name_column,
        population_column=args.population_column,
        country_column=args.country_column,
        population_map=Path(args.population_map) if args.population_map else None,
        default_population=args.default_population,
        name_key=name_key,
        keep_fields=keep_fields,
        cache=row_cache(args, name_key),
    )
    return with_populations(loaded, custom)


def _map(args: argparse.Namespace) -> int:
    if args.all:
        return map_all_command(args, load)
    if args.file is None:
        raise InputError("map needs an agreement id and a file: cleanroom-client map ID FILE (or map --all FILE)")
    with session(args) as (profile, remote):
        ready = ready_map(
            remote, profile, args.id, lambda name_key, keep_fields: load(args, name_key, keep_fields), args.peer_fingerprint
        )
        if not args.json:
            _print_read(ready, profile.party)
        result = send_map(remote, profile, ready, args.chunk_points, args.wait)
    agreement, status = ready.agreement, result.status
    read = {"file": str(ready.loaded.source), **ready.loaded.read.describe()}  # what was skipped, for machines too
    read["rows_normalised"] = ready.loaded.normalised  # the other rows came from the row cache
    change = ready.prepared.change
    if change is not None:  # a continuous agreement: the change sent, or why everything was
        read["upload"] = change.describe()
    if result.view is None:
        if args.json:
            print_json(
                {
                    "agreement_id": agreement.agreement_id,
                    "run_id": status.run_id,
                    "state": status.state,
                    "waiting_for": list(status.waiting_for),
                    "read": read,
                }
            )
        else:
            out.print(
                f"uploaded {ready.prepared.total_accounts:,} accounts to run {status.run_id}; still waiting for {', '.join(status.waiting_for) or status.state}."
            )
            out.print(
                f"run `cleanroom-client sync {agreement.agreement_id}` or `cleanroom-client overlap {agreement.agreement_id}` later."
            )
        return 0
    view = result.view
    if args.json:
        print_json({**view, "read": read})
    else:
        print_overlap(view)
        print_alerts(view)
        if "revealed_accounts" in view:
            out.print(
                f"{view['revealed_accounts']:,} of your accounts revealed as co-sell targets: cleanroom-client targets {agreement.agreement_id}"
            )
        if result.problem:
            err.print(f"error: {result.problem}", markup=False)
    return 1 if result.problem else 0


def _print_read(ready: MapReady, party: str) -> None:
    """What was read and sealed, before anything is sent."""
    loaded, prepared, plan = ready.loaded, ready.prepared, ready.plan
    print_read_report(loaded.source, loaded.read)
    skipped = f", {loaded.read.skipped_count:,} lines skipped" if loaded.read.skipped else ""
    err.print(
        f"{loaded.source}: {loaded.rows_read:,} rows -> {prepared.total_accounts:,} accounts in the agreement's populations "
        f"({len(loaded.rejected):,} rows rejected{skipped}, {prepared.excluded:,} accounts outside "
        f"{', '.join(ready.terms.populations[party])})",
        markup=False,
    )
    if prepared.change is not None:
        err.print(f"continuous agreement: {prepared.change.summary()}", markup=False)
    if plan.seals:
        err.print(
            f"sealed {', '.join(plan.share)} of {len(prepared.sealed):,} {'/'.join(plan.seal_populations)} accounts to {plan.peer}'s key "
            f"(end to end: the coordinator cannot read them; {plan.peer} sees only the accounts it also has on granted pairs)"
            + (f"; {ready.cut:,} values longer than 1000 characters were cut" if ready.cut else ""),
            markup=False,
        )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("map", help="map a CRM export under an agreement and print the overlap")
    p.add_argument("id", help="agreement id (with --all: the file)")
    p.add_argument("file", nargs="?", help="CSV, Parquet or XLSX export")
    p.add_argument(
        "--all",
        action="store_true",
        help="map FILE under every active agreement: read once, a run per agreement, one summary",
    )
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for the partner and the result")
    p.add_argument(
        "--chunk-points",
        type=_chunk_points,
        default=MAX_CHUNK_POINTS,
        metavar="N",
        help=f"points per upload chunk (default {MAX_CHUNK_POINTS}; smaller resumes finer on a flaky link)",
    )
    p.add_argument(
        "--peer-fingerprint",
        metavar="FP",
        help="the partner's encryption key fingerprint as it told you (out of band); refuse to seal to any other key",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="normalise every row again (by default rows unchanged since the last map of FILE come from the profile's row cache)",
    )
    add_file_options(p)
    add_json(p)
    p.set_defaults(handler=_map)


def _chunk_points(value: str) -> int:
    n = int(value)
    if not 1 <= n <= MAX_CHUNK_POINTS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_CHUNK_POINTS}")
    return n
