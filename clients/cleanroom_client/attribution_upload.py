"""Deals and touches ready for an attribution run: grouped, blinded, with their records.

Rows that share a key are one account (one label); each deal or touch row
becomes a record keyed by that label. What leaves the machine is the blinded
points plus, per record, only what the model needs: the vendor's row
reference, amount, currency, outcome, dates and type; the partner's role and
date. Never a name, a domain or an Opportunity ID.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cleanroom.attribution.recordio import encode_deals, encode_touches
from cleanroom.attribution.records import Deal
from cleanroom.terms import Terms
from cleanroom_client.accounts import MatchKey
from cleanroom_client.deals import DealRow
from cleanroom_client.grouping import Grouping, group_rows
from cleanroom_client.mapping import PreparedUpload, prepare
from cleanroom_client.touches import TouchRow


@dataclass(frozen=True)
class _Grouped:
    keys: tuple[MatchKey, ...]
    populations: tuple[str, ...]


def _prepare(rows: Sequence, encode: Callable[[list[int], list[int]], np.ndarray], terms: Terms, party: str, agreement_id: str,
             secret: bytes, show_progress: bool | None, grouping: Grouping | None = None) -> tuple[PreparedUpload, list[int]]:
    grouping = grouping or group_rows(rows)
    # One pseudo-population: the party's first; every point's mask is then 1.
    population = (terms.populations[party][0],)
    groups = [_Grouped(tuple(MatchKey(*text.split(":", 1)) for text in keys), population) for keys in grouping.account_keys]
    prepared = prepare(groups, terms, party, agreement_id, secret, show_progress)
    label_of_group = {group: label for label, group in enumerate(prepared.label_to_account)}
    sent = [i for i, g in enumerate(grouping.label_of_row) if g in label_of_group]
    prepared.records = encode(sent, [label_of_group[grouping.label_of_row[i]] for i in sent])
    return prepared, sent


def prepare_deals(deals: Sequence[DealRow], terms: Terms, party: str, agreement_id: str, secret: bytes,
                  show_progress: bool | None = None, grouping: Grouping | None = None) -> tuple[PreparedUpload, list[int]]:
    """The vendor's upload; a deal's ref is its index in ``deals``. Returns the upload and the refs sent.

    ``grouping`` (``group_rows(deals)``) may be passed in when the same deals go to several agreements.
    """

    def encode(refs: list[int], labels: list[int]) -> np.ndarray:
        return encode_deals([Deal(ref=ref, account=label, amount=deals[ref].amount, currency=deals[ref].currency, outcome=deals[ref].outcome,
                                  created=deals[ref].created, closed=deals[ref].closed, deal_type=deals[ref].deal_type)
                             for ref, label in zip(refs, labels)])

    return _prepare(deals, encode, terms, party, agreement_id, secret, show_progress, grouping)


def prepare_touches(touches: Sequence[TouchRow], terms: Terms, party: str, agreement_id: str, secret: bytes,
                    show_progress: bool | None = None) -> tuple[PreparedUpload, list[int]]:
    """The partner's upload. Returns the upload and the indexes of the touch rows sent."""
    def encode(indexes: list[int], labels: list[int]) -> np.ndarray:
        return encode_touches(labels, [touches[i].role for i in indexes], [touches[i].day for i in indexes])

    return _prepare(touches, encode, terms, party, agreement_id, secret, show_progress)
