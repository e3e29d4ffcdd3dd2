"""API keys, roles and browser sessions.

A key is ``crk_<key id>_<secret>``: a 12-hex-digit id (to find the row) and
a 256-bit random secret. The store keeps only SHA-256 of the whole key; a
presented key is hashed and compared with ``hmac.compare_digest`` (constant
time). A plain hash is enough: the secret has 256 bits of entropy, so there
is nothing to brute-force that a slow hash would protect. The key is shown
once, when it is created, and never again.

Roles:
- ``analyst``: its own party's releases (overlap, ranking, attribution);
- ``auditor``: the audit trail, its verification and the disclosure reports
  of the agreements its party is in;
- ``admin``: everything, and API key management.
Nobody reads points or tokens: no route serves them.

Browser sessions: logging in with a key creates a random session token kept
in an HttpOnly, SameSite=Strict cookie; the server keeps its SHA-256 in
memory with an absolute lifetime. The key itself never sits in the browser.
A restart logs everyone out; revoking a key ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from cleanroom.coordinator.pki import check_party_name
from cleanroom.coordinator.store import Store, now
from cleanroom.coordinator.store.records import ApiKeyRow
from cleanroom.errors import InputError, InvalidArgument, NotFound

ROLES = ("analyst", "auditor", "admin")
KEY_PATTERN = re.compile(r"^crk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its party and its role."""

    key_id: str
    party: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def label(self) -> str:
        return f"{self.party or 'operator'} ({self.role})"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh (key id, key): 48-bit id, 256-bit secret."""
    key_id = secrets.token_hex(6)
    return key_id, f"crk_{key_id}_{secrets.token_urlsafe(32)}"


def valid_role(role: str) -> str:
    """The role name, if it is one of ROLES; InvalidArgument otherwise."""
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _public(row: ApiKeyRow) -> dict[str, Any]:
    """A key's row as shown to admins: never its hash."""
    return {
        "key_id": row.key_id,
        "party": row.party,
        "role": row.role,
        "label": row.label,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
    }


class ApiKeys:
    """The api_keys table, with a short cache on the hot path (every request authenticates)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # key id -> (when read, the store's generation then, row): a write to the store since (a key revoked by
        # remove-party through another ApiKeys, or by the enrolment core) makes the entry stale at once.
        self._cache: dict[str, tuple[float, int, ApiKeyRow | None]] = {}
        self._lock = threading.Lock()

    def create(self, party: str, role: str, label: str = "", actor: str = "operator") -> dict[str, Any]:
        valid_role(role)
        if party or role != "admin":
            try:
                check_party_name(party)
            except InputError as exc:  # the PKI's own message says what a party name may be
                raise InvalidArgument(str(exc)) from None
        if len(label) > 200:
            raise InvalidArgument("label: at most 200 characters")
        key_id, key = new_key()
        row = ApiKeyRow(key_id, key_hash(key), party, role, label, now(), None)
        with self.store.transaction() as con:
            self.store.api_keys.insert(con, row)
            self.store.audit(
                con, actor, "api_key.created", None, {"key_id": key_id, "party": party, "role": role, "label": label}
            )
        return {**_public(row), "key": key}

    def list(self, include_revoked: bool = False) -> list[dict[str, Any]]:
        return [_public(r) for r in self.store.api_keys.list(include_revoked)]

    def get(self, key_id: str) -> dict[str, Any]:
        row = self.store.api_keys.get(key_id)
        if row is None:
            raise NotFound(f"API key {key_id!r} does not exist")
        return _public(row)

    def revoke(self, key_id: str, actor: str = "operator") -> dict[str, Any]:
        row = self.get(key_id)
        if row["revoked_at"] is None:
            at = now()
            with self.store.transaction() as con:
                self.store.api_keys.revoke(con, key_id, at)
                self.store.audit(
                    con, actor, "api_key.revoked", None, {"key_id": key_id, "party": row["party"], "role": row["role"]}
                )
            row["revoked_at"] = at
        with self._lock:
            self._cache.pop(key_id, None)
        return row

    def _row(self, key_id: str) -> ApiKeyRow | None:
        at, generation = time.monotonic(), self.store.generation
        with self._lock:
            cached = self._cache.get(key_id)
        if cached and at - cached[0] < CACHE_SECONDS and cached[1] == generation:
            return cached[2]
        row = self.store.api_keys.get(key_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (at, generation, row)
        return row

    def authenticate(self, presented: str | None) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise (in constant time for the secret)."""
        if not presented:
            return None
        match = KEY_PATTERN.match(presented.strip())
        row = self._row(match.group(1)) if match else None
        stored = row.key_hash if row else _DUMMY_HASH
        if not hmac.compare_digest(key_hash(presented.strip()), stored) or row is None or row.revoked_at is not None:
            return None
        return Principal(row.key_id, row.party, row.role)

    def principal(self, key_id: str) -> Principal | None:
        """The principal of a key id (for a browser session), unless the key was revoked since."""
        row = self._row(key_id)
        if row is None or row.revoked_at is not None:
            return None
        return Principal(row.key_id, row.party, row.role)


SESSION_COOKIE = "cleanroom_session"
SESSION_SECONDS = 8 * 3600
MAX_SESSIONS = 10_000


class Sessions:
    """Browser sessions in memory: SHA-256(token) -> (key id, expiry)."""

    def __init__(self, lifetime: float = SESSION_SECONDS) -> None:
        self.lifetime = lifetime
        self._by_hash: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def create(self, key_id: str) -> str:
        token = secrets.token_urlsafe(32)
        at = time.time()
        with self._lock:
            if len(self._by_hash) >= MAX_SESSIONS:
                self._by_hash = {h: v for h, v in self._by_hash.items() if v[1] > at}
                while len(self._by_hash) >= MAX_SESSIONS:  # still full: drop the oldest
                    self._by_hash.pop(next(iter(self._by_hash)))
            self._by_hash[key_hash(token)] = (key_id, at + self.lifetime)
        return token

    def key_id(self, token: str | None) -> str | None:
        if not token or len(token) > 100:
            return None
        digest = key_hash(token)
        with self._lock:
            found = self._by_hash.get(digest)
            if found is None:
                return None
            if found[1] <= time.time():
                del self._by_hash[digest]
                return None
            return found[0]

    def drop(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._by_hash.pop(key_hash(token), None)
