"""``cleanroom-client inspect FILE``: what would be matched, without contacting anyone."""

from __future__ import annotations

import argparse

from cleanroom.console import out, print_json, print_table
from cleanroom_client.commands._common import add_json
from cleanroom_client.commands.map import add_file_options, load

SHOW_ROWS = 50


def _inspect(args: argparse.Namespace) -> int:
    result = load(args, name_key=args.name_key)
    if args.json:
        print_json(
            {
                "file": str(result.source),
                "columns": result.columns.describe(),
                "accounts": [
                    {"row": a.rows[0], "rows": list(a.rows), "keys": [str(k) for k in a.keys], "populations": list(a.populations)}
                    for a in result.accounts
                ],
                "rejected": [{"row": r.row, "reason": r.reason} for r in result.rejected],
                "totals": result.totals(),
            }
        )
        return 0
    cols = result.columns.describe()
    out.print(f"{result.source}: key from {', '.join(cols['key'])}; population from {cols['population'] or '(default)'}; name {cols['name'] or '-'}")
    print_table(
        f"Accounts ({len(result.accounts):,}; first {min(SHOW_ROWS, len(result.accounts))} shown)",
        ["row(s)", "keys", "populations"],
        [[", ".join(map(str, a.rows[:5])) + (" ..." if len(a.rows) > 5 else ""), " ".join(map(str, a.keys)), ", ".join(a.populations)] for a in result.accounts[:SHOW_ROWS]],
    )
    if result.rejected:
        print_table(
            f"Rejected rows ({len(result.rejected):,}; first {min(SHOW_ROWS, len(result.rejected))} shown)",
            ["row", "reason"],
            [[r.row, r.reason] for r in result.rejected[:SHOW_ROWS]],
        )
    totals = result.totals()
    print_table("Totals", ["", "count"], [
        ["rows read", f"{totals['rows']:,}"],
        ["accounts", f"{totals['accounts']:,}"],
        ["duplicate rows merged", f"{totals['duplicates_merged']:,}"],
        ["rows rejected", f"{totals['rejected']:,}"],
        *[[f"  {pop}", f"{n:,}"] for pop, n in totals["by_population"].items()],
    ], numbers=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show the canonical keys and populations a file yields (contacts nobody)")
    p.add_argument("file", help="CSV, Parquet or XLSX export")
    p.add_argument("--name-key", action="store_true", help="also show the name + country key")
    add_file_options(p)
    add_json(p)
    p.set_defaults(handler=_inspect)
