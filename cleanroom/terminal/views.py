"""Rendering released results for people; shared by the client and the demo."""

from __future__ import annotations

from typing import Any

from cleanroom.terminal.console import out, print_table


def print_overlap(view: dict[str, Any]) -> None:
    mine = list(dict.fromkeys(c["mine"] for c in view["cells"]))
    theirs = list(dict.fromkeys(c["theirs"] for c in view["cells"]))
    cell = {(c["mine"], c["theirs"]): c for c in view["cells"]}

    def show(c: dict[str, Any] | None) -> str:
        if c is None:
            return "-"
        return f"< {view['min_count']}" if c["suppressed"] else f"{c['count']:,}"

    rows = [[m, *(show(cell.get((m, t))) for t in theirs)] for m in mine]
    print_table(
        f"Overlap {view['viewer']} x {view['other']} (agreement {view['agreement_id']}, run {view['run_id']})",
        [f"{view['viewer']} \\ {view['other']}", *theirs],
        rows,
        numbers=True,
    )
    totals = view["totals"]
    overlap = "withheld" if totals["overlap"] is None else f"{totals['overlap']:,}"
    out.print(
        f"accounts: {view['viewer']} {totals['mine']:,}, {view['other']} {totals['theirs']:,}; overlap {overlap}"
        f" (cells under {view['min_count']} are shown as '< {view['min_count']}')"
    )
    if view.get("greenfield"):
        print_greenfield(view)


def print_greenfield(view: dict[str, Any]) -> None:
    """Greenfield: per granted population of the other side, its accounts the viewer does not have."""
    shown = [[g["theirs"], "suppressed" if g["suppressed"] else f"{g['count']:,}"] for g in view["greenfield"]]
    print_table(
        f"Greenfield: {view['other']}'s accounts {view['viewer']} does not have",
        [f"{view['other']}'s population", "accounts"],
        shown,
        numbers=True,
    )


def print_partner_credit(view: dict[str, Any]) -> None:
    """The vendor's per-partner attribution table (money as released: decimal strings)."""
    print_table(
        f"Partner attribution ({view['model']}, as of {view['as_of']})",
        ["partner", "credited won", "credited open", "sourced", "influenced", "win rate"],
        [
            [
                p["partner"],
                p["credited_won"],
                p["credited_open"],
                p["deals_sourced"],
                p["deals_influenced"],
                "-" if p["win_rate_influenced"] is None else f"{p['win_rate_influenced']:.1%}",
            ]
            for p in view["partners"]
        ],
        numbers=True,
    )
