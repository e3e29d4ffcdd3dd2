"""The error for a cell that cannot be used: where it is (row, and line when they differ), what it holds, what was expected."""

from __future__ import annotations

from pathlib import Path

from cleanroom.errors import InputError


class CellError(InputError):
    """A value that cannot be used; the message names the file, 1-based data row, column and value."""

    def __init__(
        self, path: Path | str, row: int, column: str, value: str | None, problem: str, hint: str = "", line: int | None = None
    ) -> None:
        self.path, self.row, self.column, self.value = str(path), row, column, value
        self.problem, self.hint = problem, hint
        shown = "(empty)" if value is None or not str(value).strip() else repr(value)
        # The line only where it is not row + 1 (lines were skipped, or a value spans lines): then both are needed.
        where = f"row {row} (line {line})" if line is not None and line != row + 1 else f"row {row}"
        message = f"{path}: {where}, column {column!r}: {problem} {shown}"
        super().__init__(message + (f"; {hint}" if hint else ""))

    def at_line(self, line: int | None) -> CellError:
        """The same error, naming the row's line in the file too."""
        return CellError(self.path, self.row, self.column, self.value, self.problem, self.hint, line)
