"""Agreement terms as bytes, parsed by ``parse_terms`` (both ends parse what the other side sent).

A refusal is ``InvalidArgument`` (the gRPC and REST layers answer it as such); anything else escaping is a
crash (an INTERNAL answer to a bad proposal). Terms that parse must be exactly their canonical JSON (the
bytes both sides hash and approve), parse again to the same terms, answer every grant question for each
party, and survive the one amendment a party may make (its own shared columns).
"""

from __future__ import annotations

import json

from cleanroom.errors import InvalidArgument
from cleanroom.terms import Terms, amend_share, canonical_json, parse_terms
from fuzz.targets.crash import Crash


def _questions(terms: Terms) -> None:
    for party in terms.parties:
        terms.cells_granted(party)
        terms.totals_granted(party)
        terms.reveal_granted(party)
        terms.shared_columns(party)
    terms.reveals()
    if terms.vendor is not None:
        terms.partner()


def check(data: bytes) -> None:
    check_terms(data)
    try:  # the same JSON made canonical: a mutation that only broke the form still reaches the checks behind it
        raw = json.loads(data)
    except (ValueError, RecursionError):
        return
    canonical = canonical_json(raw)
    if canonical != data:
        check_terms(canonical)


def check_terms(data: bytes) -> None:
    try:
        terms = parse_terms(data)
    except InvalidArgument:
        return
    if canonical_json(terms.raw) != data:
        raise Crash("parsed terms are not their own canonical JSON")
    if parse_terms(canonical_json(terms.raw)) != terms:
        raise Crash("terms parse differently the second time")
    _questions(terms)
    for party in terms.parties:
        amend_share(data, party, [])  # dropping one's own shares always leaves valid terms: a refusal escapes
