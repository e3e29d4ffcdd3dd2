"""What reading a file skipped, shown to people by the commands that read accounts files."""

from __future__ import annotations

from rich.markup import escape

from cleanroom.terminal.console import out, print_table
from cleanroom_client.inputs.readreport import ReadReport

SHOW_LINES = 50  # a terminal's worth; --json has everything


def print_read_report(source: object, report: ReadReport) -> None:
    """The encoding, the skipped lines by number and the formulas without a saved value, if any."""
    if report.encoding:
        out.print(f"{source}: read as {report.encoding}", markup=False)
    if report.skipped:
        shown = report.skipped[:SHOW_LINES]
        listed = (
            f"--json lists the first {len(report.skipped):,}"
            if len(report.skipped) < report.skipped_count
            else "--json lists all"
        )
        more = f" (first {SHOW_LINES} shown; {listed})" if report.skipped_count > SHOW_LINES else ""
        print_table(
            f"Skipped lines ({report.skipped_count:,}){more}",
            ["line", "reason", "text"],
            [[s.line, s.reason, escape(s.text)] for s in shown],  # the user's own text: not rich markup
        )
    if report.uncached:
        shown_cells = report.uncached[:SHOW_LINES]
        print_table(
            f"Formulas without a saved value, read as empty ({len(report.uncached):,}): "
            "open the file in Excel or LibreOffice and save it, so the values are stored",
            ["sheet", "cell", "formula"],
            [[escape(u.sheet), u.cell, escape(u.formula)] for u in shown_cells],
        )
