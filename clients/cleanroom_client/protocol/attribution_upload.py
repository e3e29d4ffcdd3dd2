"""Deals and touches ready for an attribution run: grouped, blinded, with their records.

Rows that share a key are one account (one label); each deal or touch row
becomes a record keyed by that label. What leaves the machine is the blinded
points plus, per record, only what the model needs: the vendor's row
reference, amount, currency, outcome, dates and type; the partner's role and
date. Never a name, a domain or an Opportunity ID.

The vendor sends the same deals under every partner agreement: only the
blinding and the labels (which follow the blinded order) differ, so the rows
are grouped into accounts and encoded once (``RecordSet``) and each upload
only blinds and relabels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from cleanroom.attribution.recordio import encode_deals, encode_touches
from cleanroom.attribution.records import Deal
from cleanroom.terms import Terms
from cleanroom_client.inputs.accounts import MatchKey
from cleanroom_client.inputs.deals import DealRow
from cleanroom_client.inputs.grouping import group_rows
from cleanroom_client.inputs.touches import TouchRow
from cleanroom_client.protocol.prepare import PreparedUpload, prepare


@dataclass(frozen=True)
class _Grouped:
    keys: tuple[MatchKey, ...]
    populations: tuple[str, ...]


@dataclass(frozen=True)
class RecordSet:
    """Rows grouped into accounts, with one record per row (its account label set per upload)."""

    accounts: list[tuple[MatchKey, ...]]  # per account: its keys
    account_of_row: np.ndarray  # per row: index into ``accounts``
    records: np.ndarray  # per row: DEAL or TOUCH record; ``account`` filled in by ``prepare_records``


def deal_records(deals: Sequence[DealRow]) -> RecordSet:
    """The vendor's deals; a deal's ref is its index in ``deals``."""
    # With refs and accounts given, encode_deals reads only the other Deal fields, which a DealRow has.
    return _record_set(deals, encode_deals(cast("Sequence[Deal]", deals), refs=range(len(deals)), accounts=[0] * len(deals)))


def touch_records(touches: Sequence[TouchRow]) -> RecordSet:
    return _record_set(touches, encode_touches([0] * len(touches), [t.role for t in touches], [t.day for t in touches]))


def _record_set(rows: Sequence[Any], records: np.ndarray) -> RecordSet:
    # DealRows or TouchRows (anything with ``.keys``); Any because inputs' _Keyed protocol declares a settable attribute.
    grouping = group_rows(rows)
    return RecordSet(grouping.account_keys, np.asarray(grouping.label_of_row, dtype=np.int64), records)


def prepare_records(
    record_set: RecordSet, terms: Terms, party: str, agreement_id: str, secret: bytes, show_progress: bool | None = None
) -> tuple[PreparedUpload, np.ndarray]:
    """One upload of ``record_set`` under an agreement: (the upload, the indexes of the rows sent)."""
    # One pseudo-population: the party's first; every point's mask is then 1.
    population = (terms.populations[party][0],)
    prepared = prepare(
        [_Grouped(keys, population) for keys in record_set.accounts], terms, party, agreement_id, secret, show_progress
    )
    label_of_account = np.full(len(record_set.accounts), -1, dtype=np.int64)
    label_of_account[np.asarray(prepared.label_to_account, dtype=np.int64)] = np.arange(len(prepared.label_to_account))
    labels = label_of_account[record_set.account_of_row]
    sent = np.flatnonzero(labels >= 0)  # rows whose account has a key of a kind the terms use
    records = record_set.records[sent]
    records["account"] = labels[sent]
    prepared.records = records
    return prepared, sent
