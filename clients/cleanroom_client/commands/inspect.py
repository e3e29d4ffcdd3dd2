"""``cleanroom-client inspect FILE``: what would be matched, without contacting anyone."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape

from cleanroom.terminal.console import out, print_json, print_table
from cleanroom_client.commands._common import add_json
from cleanroom_client.commands._read_report import print_read_report
from cleanroom_client.commands.map import add_file_options, load
from cleanroom_client.inputs.accounts import Account, LoadResult
from cleanroom_client.inputs.custom_populations import parse_options

SHOW_ROWS = 50  # a terminal's worth; --json has everything
SHOW_ROW_NUMBERS = 5  # per merged account


def inspect_dict(result: LoadResult) -> dict[str, Any]:
    """The --json document: accounts, rejected rows and totals (plus the file and the columns used)."""
    return {
        "file": str(result.source),
        "columns": result.columns.describe(),
        "accounts": [
            {"row": a.rows[0], "rows": list(a.rows), "keys": [str(k) for k in a.keys], "populations": list(a.populations)}
            for a in result.accounts
        ],
        # "line": the row's line in the file (XLSX: in the sheet; None for Parquet), which skipped lines move
        "rejected": [{"row": r.row, "line": result.read.line_of(r.row), "reason": r.reason} for r in result.rejected],
        "read": result.read.describe(),
        "totals": result.totals(),
    }


def _rows_cell(account: Account) -> str:
    shown = ", ".join(map(str, account.rows[:SHOW_ROW_NUMBERS]))
    more = len(account.rows) - SHOW_ROW_NUMBERS
    return shown + (f" (+{more})" if more > 0 else "")


def _row_and_line(result: LoadResult, row: int) -> str:
    line = result.read.line_of(row)
    return f"{row} (line {line})" if line is not None and line != row + 1 else str(row)


def _title(what: str, total: int) -> str:
    return f"{what} ({total:,})" if total <= SHOW_ROWS else f"{what} (first {SHOW_ROWS} of {total:,}; --json lists all)"


def _print_people(result: LoadResult) -> None:
    # Cells are the user's own data: escape them so "[b]" in a cell is not taken for rich markup.
    cols: dict[str, Any] = result.columns.describe()
    out.print(
        f"{result.source}: keys from {', '.join(cols['key']) or '-'}; name from {cols['name'] or '-'}; "
        f"population from {cols['population'] or '(default)'}; country from {cols['country'] or '-'}",
        markup=False,
    )
    print_read_report(result.source, result.read)
    print_table(
        _title("Accounts", len(result.accounts)),
        ["row(s)", "keys", "populations"],
        [[_rows_cell(a), escape(" ".join(map(str, a.keys))), ", ".join(a.populations)] for a in result.accounts[:SHOW_ROWS]],
    )
    if result.rejected:
        print_table(
            _title("Rejected rows", len(result.rejected)),
            ["row", "reason"],
            [[_row_and_line(result, r.row), escape(r.reason)] for r in result.rejected[:SHOW_ROWS]],
        )
    totals: dict[str, Any] = result.totals()
    print_table(
        "Totals",
        ["", "count"],
        [
            ["rows read", f"{totals['rows']:,}"],
            ["accounts", f"{totals['accounts']:,}"],
            ["duplicate rows merged", f"{totals['duplicates_merged']:,}"],
            ["rows rejected", f"{totals['rejected']:,}"],
            ["lines skipped", f"{result.read.skipped_count:,}"],
            *[[f"accounts in {pop}", f"{n:,}"] for pop, n in totals["by_population"].items()],
        ],
        numbers=True,
    )


def custom_sizes(result: LoadResult, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Each custom population's filter and size: what a map would put in it (previewed locally, sent nowhere)."""
    by_population: Any = result.totals()["by_population"]
    return [{"population": n, "filter": filters[n], "accounts": int(by_population.get(n, 0))} for n in result.custom]


def _inspect(args: argparse.Namespace) -> int:
    result = load(args, name_key=args.name_key)
    custom = custom_sizes(result, {p.name: p.text for p in parse_options(args.population)})
    if args.json:
        print_json({**inspect_dict(result), "custom_populations": custom})
    else:
        _print_people(result)
        if custom:
            rows = [[c["population"], f"{c['accounts']:,}", escape(c["filter"])] for c in custom]
            print_table("Custom populations (filters stay on this machine)", ["population", "accounts", "filter"], rows)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("inspect", help="show the canonical keys and populations a file yields (contacts nobody)")
    p.add_argument("file", help="CSV, Parquet or XLSX export")
    p.add_argument("--name-key", action="store_true", help="also derive the company name + country key")
    add_file_options(p)
    add_json(p)
    p.set_defaults(handler=_inspect)
