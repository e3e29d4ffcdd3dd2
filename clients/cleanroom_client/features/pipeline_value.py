"""Pipeline value on our side: encrypt our amounts into the upload; read, check and decrypt what is released.

The release holds, per granted cell, the count and the sum of our amounts over the matched accounts as a
ciphertext to our own key. We decrypt it by a bounded search (cleanroom.homomorphic.bsgs): the sum lies in
[0, cap x our accounts in the cell's population], widened under DP by the noise's tail (50 scales: the
chance of a draw beyond that is below e^-50). Under DP the decrypted value is then clamped into
[0, cap x count bound]: post-processing, no privacy cost.
"""

from __future__ import annotations

import json
import math
from typing import Any

from cleanroom.crypto.signing import verify_bytes
from cleanroom.distinct import distinct_sorted
from cleanroom.errors import InputError, ProtocolError
from cleanroom.homomorphic import Ciphertext, decrypt
from cleanroom.terms import Terms
from cleanroom.terms_value import ValueGrant, value_grant
from cleanroom_client.features.value_amounts import account_amounts
from cleanroom_client.inputs.deals import DealsResult
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.heads import verified_head
from cleanroom_client.protocol.prepare import PreparedUpload
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.value_keys import ValueKeys
from cleanroom_client.protocol.value_upload import attach_values
from cleanroom_client.remote import Agreement, Remote

NOISE_TAIL_SCALES = 50


def my_grant(terms: Terms, party: str) -> ValueGrant | None:
    return value_grant(terms.release, party)


def accounts_by_population(prepared: PreparedUpload, populations: tuple[str, ...]) -> dict[str, int]:
    """How many distinct account labels of the upload lie in each of our populations."""
    out = {}
    for i, pop in enumerate(populations):
        on = (prepared.populations >> i) & 1 == 1
        out[pop] = len(distinct_sorted(prepared.accounts[on]))
    return out


def add_values(
    profile: Profile, agreement: Agreement, terms: Terms, prepared: PreparedUpload, accounts: Any, deals: DealsResult | None
) -> dict[str, Any] | None:
    """Encrypt our amounts into ``prepared`` when the terms grant us pipeline value; the summary (None: no grant)."""
    grant = my_grant(terms, profile.party)
    if grant is None:
        return None
    if deals is None:
        raise InputError(
            f"the terms of agreement {agreement.agreement_id} grant you pipeline value: map with --deals FILE "
            "(your deals export) so that your amounts can be encrypted beside your accounts"
        )
    amounts = account_amounts(accounts, prepared.label_to_account, deals, grant.kind, grant.cap)
    store = ValueKeys(profile.path)
    attach_values(prepared, amounts.values, store.key_pair(agreement.agreement_id))
    store.note_accounts(agreement.agreement_id, accounts_by_population(prepared, terms.populations[profile.party]))
    return amounts.summary(grant.cap, grant.kind)


def read_value(remote: Remote, profile: Profile, agreement: Agreement, log: ReceiptLog, run_id: str = "") -> dict[str, Any]:
    """The pipeline value released to us: signature checked, kept in the receipts, each shown cell decrypted."""
    release = remote.pipeline_value(agreement.agreement_id, run_id)
    public_pem = profile.signing_key()
    if not verify_bytes(public_pem, release.body_json.encode("utf-8"), release.signature):
        raise ProtocolError("the pipeline-value release's signature does not verify against the coordinator's key; refusing it")
    head = verified_head(release.audit_head, public_pem, "the pipeline-value release")
    log.record_signed_release(release.body_json, release.signature, head)
    body = json.loads(release.body_json)
    store = ValueKeys(profile.path)
    keys, accounts = store.existing(agreement.agreement_id), store.accounts(agreement.agreement_id)
    cap, scale = int(body["cap"]), float((body.get("dp") or {}).get("scale", 0.0))
    margin = math.ceil(NOISE_TAIL_SCALES * scale)
    cells = []
    for cell in body["cells"]:
        out = {k: cell[k] for k in ("mine", "theirs", "count", "suppressed")}
        if cell.get("ciphertext"):
            # Exact counts bound the sum tightly; under DP the count is noisy, so our own accounts bound it.
            n = (
                accounts.get(cell["mine"], 0)
                if scale or cell["count"] is None
                else min(int(cell["count"]), accounts.get(cell["mine"], 0))
            )
            ciphertext = Ciphertext.from_bytes(bytes.fromhex(cell["ciphertext"]), "released sum")
            raw = decrypt(keys, ciphertext, -margin, cap * n + margin)
            out["sum"] = min(max(raw, 0), cap * n)
        else:
            out["sum"] = None
        cells.append(out)
    return {"kind": body["value_kind"], "cap": cap, "run_id": body["run_id"], "cells": cells, "dp": body.get("dp")}
