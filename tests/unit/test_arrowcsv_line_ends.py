"""The line-end count the clean-CSV check rests on, against Python's own counts of the same bytes: a CR
counts as CRLF only with its LF, also when a chunk boundary falls between them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom_client.inputs import arrowcsv

CONTENTS = [
    b"a\r\nb\r\n",
    b"a\rb\n",
    b"abc\r\ndef\n",
    b"abc\r",
    b"\r\n\r\n\r\n",
    b"",
    b"x\ny",
    b"abcd\r\nx",
    b"abc\r\r\n",
    b'name,web\r\nAcme,acme.com\r\nBeta,"b\rc"\n' * 3,
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7, 1 << 20])
def test_line_ends_are_pythons_counts_whatever_the_chunk_boundaries(tmp_path: Path, monkeypatch, chunk: int):
    monkeypatch.setattr(arrowcsv, "_CHUNK", chunk)
    for i, content in enumerate(CONTENTS):
        path = tmp_path / f"{i}.csv"
        path.write_bytes(content)
        expected = (content.count(b"\n"), content.count(b"\r"), content.count(b"\r\n"), content.endswith(b"\n"))
        assert arrowcsv._line_ends(path) == expected, content
