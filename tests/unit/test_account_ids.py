"""Account identities (inputs/account_ids.py): DuckDB's vectorised digests are the bytes hashlib gives, and a
state written by the previous format (BLAKE2b identities) is read as such, so the next run sends everything."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom_client.inputs.account_ids import IDENTITY_VERSION, account_ids
from cleanroom_client.protocol.sent_state import SentState


def _md5(text: str) -> bytes:
    return hashlib.md5(b"cleanroom/account-id/2:" + text.encode("utf-8"), usedforsecurity=False).digest()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), max_size=40))
def test_vectorised_identities_are_the_md5_of_the_prefixed_text(texts):
    found = account_ids(pa.array(texts, pa.string()))
    assert found.dtype == np.dtype("S16") and len(found) == len(texts)
    # numpy drops trailing NULs of an S16 item: compare whole rows of bytes
    assert [found[i : i + 1].tobytes() for i in range(len(texts))] == [_md5(t) for t in texts]


def test_identities_of_a_large_column_stay_in_order():
    # Past DuckDB's row groups (122,880 rows): the digest query runs on every core, in a subquery (rowdigest.
    # MD5_HALVES); each identity must still be its own text's, in place.
    texts = [f"domain\x1ecompany-{i}.example" for i in range(300_000)]
    found = account_ids(pa.array(texts, pa.string()))
    expected = np.array([_md5(t) for t in texts], dtype="S16")
    assert found.tobytes() == expected.tobytes()


def test_a_null_text_has_no_identity():
    with pytest.raises(ValueError, match="no identity"):
        account_ids(pa.array(["domain\x1ea.com", None], pa.string()))


def test_a_format_1_state_reads_as_blake2b_identities():
    ids = np.array([hashlib.blake2b(b"domain\x1ea.com", digest_size=16).digest()], dtype="S16")
    meta = {
        "format": 1,
        "agreement_id": "agr_1",
        "run_id": "run_1",
        "terms_hash": "th",
        "secret_tag": "tag",
        "normaliser_version": "1",
        "next_label": 1,
        "upload_id": "upl_1",
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        ids=ids,
        labels=np.zeros(1, np.uint32),
        masks=np.ones(1, np.uint16),
        left=np.zeros(0, "S16"),
    )
    state = SentState.from_bytes(buffer.getvalue())
    assert state.identity == "blake2b/1" != IDENTITY_VERSION
    again = SentState.from_bytes(state.to_bytes())
    assert again.identity == "blake2b/1" and again.ids.tobytes() == ids.tobytes()
