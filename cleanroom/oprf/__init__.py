"""An oblivious PRF (RFC 9497 style, OPRF mode, with a DLEQ proof) over the Ed25519 prime-order group.

Used by deal registration: a partner turns an account key into a program token
with the vendor's help, without the vendor seeing the key, and the same key
gives the same token for every partner. Pure functions; the only randomness
is the blinding and proof nonces (``secrets``).

Public face::

    new_secret() -> int, public_key(k) -> bytes
    blind(data, context) -> Blinded(r, element); evaluate(k, element) -> bytes
    finalize(data, context, r, evaluated) -> token; direct(k, data, context) -> token
    prove(k, blinded, evaluated) -> proof; verify(public, blinded, evaluated, proof) -> bool
    InvalidElement(InputError)
"""

from cleanroom.oprf.dleq import PROOF_SIZE, prove, verify
from cleanroom.oprf.group import ELEMENT_SIZE, InvalidElement, decode, scalar_bytes, scalar_from_bytes
from cleanroom.oprf.group import random_scalar as new_secret
from cleanroom.oprf.oprf import TOKEN_SIZE, Blinded, blind, direct, evaluate, finalize, public_key

__all__ = [
    "ELEMENT_SIZE",
    "PROOF_SIZE",
    "TOKEN_SIZE",
    "Blinded",
    "InvalidElement",
    "blind",
    "decode",
    "direct",
    "evaluate",
    "finalize",
    "new_secret",
    "prove",
    "public_key",
    "scalar_bytes",
    "scalar_from_bytes",
    "verify",
]
