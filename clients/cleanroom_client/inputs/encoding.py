"""Which text encoding a CSV file is in: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

Excel on Windows saves "CSV" in the machine's code page (Windows-1252 in
Western Europe and the Americas: 0x80 is the euro sign, 0x91-0x94 curly
quotes); "Unicode text" and some CRM exports are UTF-16 with a byte-order
mark. A file that is not valid UTF-8 is read as Windows-1252, whose five
unassigned bytes are taken as Latin-1 so that any byte sequence reads.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cleanroom.errors import InputError

_LENIENT = "cleanroom-latin1-fallback"


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(_LENIENT, _latin1_fallback)


@dataclass(frozen=True)
class Encoding:
    codec: str  # what Python decodes with
    label: str  # what the user is told
    errors: str = "strict"


UTF8 = Encoding("utf-8", "UTF-8")
_BOMS = (
    (codecs.BOM_UTF8, Encoding("utf-8-sig", "UTF-8 with BOM")),
    (codecs.BOM_UTF16_LE, Encoding("utf-16", "UTF-16 LE with BOM")),
    (codecs.BOM_UTF16_BE, Encoding("utf-16", "UTF-16 BE with BOM")),
)
WINDOWS_1252 = Encoding("cp1252", "Windows-1252", _LENIENT)


def is_utf8(blocks: Iterable[bytes | memoryview]) -> bool:
    """Whether the bytes, given a block at a time, are UTF-8 text (never a whole file's text at once)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for block in blocks:
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def blocks_of(path: Path, skip: int = 0) -> Iterator[bytes]:
    """The file's bytes from ``skip`` on, a MB at a time."""
    with path.open("rb") as fh:
        fh.seek(skip)
        while block := fh.read(1 << 20):
            yield block


def _is_utf8(path: Path) -> bool:
    return is_utf8(blocks_of(path))


def detect_encoding(path: Path) -> Encoding:
    """The file's encoding; InputError for a binary file (NUL bytes and no UTF-16 byte-order mark)."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\x00" in head:
        raise InputError(
            f"{path}: cannot be read as CSV: it has NUL bytes, so it is a binary file (wrong extension?) or UTF-16 "
            "text without a byte-order mark; export it again as CSV (UTF-8)"
        )
    return UTF8 if _is_utf8(path) else WINDOWS_1252


def first_bad_line(path: Path, encoding: Encoding) -> int:
    """The 1-based line holding the file's first byte sequence that is not valid in ``encoding`` (0 if none).

    Only after a read failed: text is decoded in blocks, so the reader cannot tell the line itself.
    """
    raw = path.read_bytes()
    try:
        raw.decode(encoding.codec, encoding.errors)
    except UnicodeDecodeError as exc:
        return raw[: exc.start].decode(encoding.codec, "replace").count("\n") + 1
    return 0
