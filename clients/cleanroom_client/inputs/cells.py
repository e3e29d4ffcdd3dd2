"""The error for a cell that cannot be used: where it is, what it holds, what was expected."""

from __future__ import annotations

from pathlib import Path

from cleanroom.errors import InputError


class CellError(InputError):
    """A value that cannot be used; the message names the file, 1-based data row, column and value."""

    def __init__(self, path: Path | str, row: int, column: str, value: str | None, problem: str, hint: str = "") -> None:
        self.path, self.row, self.column, self.value = str(path), row, column, value
        shown = "(empty)" if value is None or not str(value).strip() else repr(value)
        message = f"{path}: row {row}, column {column!r}: {problem} {shown}"
        super().__init__(message + (f"; {hint}" if hint else ""))
