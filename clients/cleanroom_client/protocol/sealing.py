"""Sealing what we share: our shared columns, for every account the terms may reveal to the peer,
sealed to the peer's X25519 key and carried beside our points (cleanroom/crypto/sealed.py).

Which populations are sealed, which headers hold the shared columns and which key is the
peer's are decided by the caller (features/reveal.py reads them from the terms and the pins).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from cleanroom.crypto.sealed import MAX_VALUE_CHARS, SealContext, Sealer, content_digest
from cleanroom.terms import canonical_json
from cleanroom_client.protocol.encryption import EncryptionKeys
from cleanroom_client.protocol.prepare import PreparedUpload

if TYPE_CHECKING:
    from cleanroom_client.inputs.accounts import Account


def shared_values(account: Account, headers: dict[str, str]) -> tuple[dict[str, str | None], bool]:
    """The shared columns of an account's first row ({terms column: value or None}), and whether a value was cut."""
    values: dict[str, str | None] = {}
    cut = False
    for column, header in headers.items():
        value = account.fields.get(header)
        if value is not None and len(value) > MAX_VALUE_CHARS:
            value, cut = value[: MAX_VALUE_CHARS - 1] + "\u2026", True
        values[column] = value
    return values, cut


def seal_upload(
    prepared: PreparedUpload,
    accounts: Sequence[Account],
    populations: Collection[str],
    headers: dict[str, str],
    context: SealContext,
    keys: EncryptionKeys,
    peer_public: bytes,
) -> int:
    """Seal our shared columns (``headers``: terms column -> our header) for every account in one of
    ``populations``, to ``peer_public`` under ``context``; returns how many values were cut."""
    wanted = set(populations)
    plaintexts: list[tuple[int, bytes]] = []
    cut = 0
    for label, index in enumerate(prepared.label_to_account):
        account = accounts[index]
        if wanted.intersection(account.populations):
            values, was_cut = shared_values(account, headers)
            cut += was_cut
            plaintexts.append((label, canonical_json(values)))
    sealer = Sealer(context, keys.private(), peer_public, content_digest(prepared.points, plaintexts))
    prepared.sealed = [(label, sealer.seal(label, plaintext)) for label, plaintext in plaintexts]
    prepared.sealed_ephemeral = sealer.ephemeral_public
    return cut
