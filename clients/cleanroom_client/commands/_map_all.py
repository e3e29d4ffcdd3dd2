"""``cleanroom-client map --all FILE``: every active agreement from one read of FILE; one summary."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cleanroom.errors import InputError
from cleanroom.terminal.console import err, out, print_json, print_table
from cleanroom_client.commands._common import session
from cleanroom_client.commands._read_report import print_read_report
from cleanroom_client.features.map_all import MapAllResult, Outcome, Read, map_all
from cleanroom_client.inputs.accounts import LoadResult
from cleanroom_client.inputs.deals import load_deals
from cleanroom_client.inputs.readers import check_file

# map.py's loader: (the parsed arguments, name keys, keep every column) -> the file read.
ArgsLoader = Callable[[argparse.Namespace, bool, bool], LoadResult]


def map_all_command(args: argparse.Namespace, load: ArgsLoader) -> int:
    if args.file is not None:
        raise InputError(f"map --all takes one file, not an agreement id: cleanroom-client map --all {args.file}")
    if args.peer_fingerprint:
        raise InputError("--peer-fingerprint names one partner's key: use it with `map ID FILE`, not with --all")
    args.file = args.id  # with --all the one positional is the file
    check_file(Path(args.file))  # named at once, even when no agreement is active to read it for
    with session(args) as (profile, remote):
        result = map_all(
            remote,
            profile,
            lambda name_key, keep: _reported(load(args, name_key, keep), args.json),
            args.chunk_points,
            args.wait,
            load_deals=functools.cache(lambda name_key: load_deals(Path(args.deals), name_key=name_key)) if args.deals else None,
        )
    if args.json:
        print_json(
            {
                "file": str(args.file),
                "file_reads": sum(r.loaded is not None for r in result.reads),
                "reads": [_read_json(r) for r in result.reads],
                "agreements": [o.to_json() for o in result.outcomes],
            }
        )
    else:
        _print_summary(result)
    return 1 if result.failed else 0


def _reported(loaded: LoadResult, quiet: bool) -> LoadResult:
    """Say what was read (and skipped) as soon as it is read, before anything is blinded."""
    if not quiet:
        print_read_report(loaded.source, loaded.read)
        err.print(
            f"{loaded.source}: {loaded.rows_read:,} rows -> {len(loaded.accounts):,} accounts "
            f"({len(loaded.rejected):,} rows rejected)",
            markup=False,
        )
    return loaded


def _read_json(read: Read) -> dict[str, Any]:
    body: dict[str, Any] = {"name_key": read.name_key, "agreements": read.agreements, "ok": read.loaded is not None}
    if read.loaded is not None:
        body.update(rows=read.loaded.rows_read, accounts=len(read.loaded.accounts), rejected=len(read.loaded.rejected))
        body["read"] = read.loaded.read.describe()
    return body


def _detail(o: Outcome) -> str:
    if o.reason:
        return o.reason
    if o.state == "collecting":
        return f"waiting for {', '.join(o.waiting_for)}; later: cleanroom-client sync {o.agreement_id} / overlap {o.agreement_id}"
    return f"matrix: cleanroom-client overlap {o.agreement_id}"


def _sent(o: Outcome) -> str:
    """What the run got from us: everything, or (continuous agreements) only the change."""
    if not o.run_id:
        return ""
    if o.upload is None or o.upload["sent"] != "changes":
        return "everything"
    return f"+{o.upload['added']:,} -{o.upload['removed']:,} ~{o.upload['moved']:,}"


def _overlap(o: Outcome) -> str:
    if o.view is None:
        return ""
    total = o.view["totals"]["overlap"]
    return "withheld" if total is None else f"{total:,}"


def _print_summary(result: MapAllResult) -> None:
    ok = [r for r in result.reads if r.loaded is not None]
    if len(ok) > 1:
        out.print(f"the file was read {len(ok)} times: once with name+country keys, once with domain keys only")
    print_table(
        f"map --all: {len(result.outcomes)} agreement(s)",
        ["agreement", "partner", "state", "run", "accounts", "sent", "overlap", "why / next"],
        [
            [
                o.agreement_id,
                o.partner,
                o.state,
                o.run_id,
                f"{o.accounts:,}" if o.run_id else "",
                _sent(o),
                _overlap(o),
                _detail(o),
            ]
            for o in result.outcomes
        ],
    )
    failed = sum(o.state == "failed" for o in result.outcomes)
    if failed:
        err.print(f"error: {failed} agreement(s) failed; the others ran (see 'why' above)", markup=False)
