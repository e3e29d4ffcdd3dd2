"""The two X25519 implementations behind blinding: crypto_mb (eight lanes a call) and OpenSSL.

``multiply`` (any point: a partner's, a coordinator's) must run on OpenSSL; ``multiply_own_hashes``
(our own hash outputs) may run on crypto_mb. Both must give what RFC 7748 says (its vectors, and the
reference ladder of test_psi_x25519.py written from the RFC). crypto_mb is exercised directly wherever
it loads; which one a process uses is checked against this machine's CPU flags read independently.
crypto_mb 2026.2.0 is wrong on some structured points (x25519.py): the hostile tests below feed
exactly those to every path that multiplies points someone else chose.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cleanroom.psi import InvalidPoint, cryptomb, x25519
from cleanroom.psi.group import LOW_ORDER_U, P, hash_to_points
from tests.unit.test_psi_x25519 import ITERATED, NINE, clamped_scalar, ref_x25519

ROOT = Path(__file__).resolve().parents[2]


def _cpu_has_ifma() -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return " avx512ifma" in flags


def _fast_extra_installed() -> bool:
    return (Path(sys.prefix) / "lib" / "libcrypto_mb.so").exists()


BACKENDS = ["openssl", *(["cryptomb"] if cryptomb.load() is not None else [])]


def test_crypto_mb_is_used_exactly_where_it_can_be() -> None:
    expected = "cryptomb" if _fast_extra_installed() and _cpu_has_ifma() else "openssl"
    assert x25519.backend() == expected


def _points(rng: random.Random, n: int) -> list[bytes]:
    """Canonical u-coordinates of small order excluded: on the curve and on its twist alike."""
    out: list[bytes] = []
    while len(out) < n:
        u = rng.randrange(P)
        if u not in LOW_ORDER_U:
            out.append(u.to_bytes(32, "little"))
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_rfc7748_iterated_1000(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(x25519.BACKEND_VARIABLE, backend)
    k = u = NINE
    for _ in range(1000):
        k, u = x25519.multiply_own_hashes(k, u), k
    assert k.hex() == ITERATED[1000]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 15, 16, 17, 100])
def test_every_batch_size_agrees_with_the_rfc_ladder(backend: str, n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches that do not fill the last call's eight lanes, as well as those that do."""
    monkeypatch.setenv(x25519.BACKEND_VARIABLE, backend)
    rng = random.Random(n)
    secret = clamped_scalar(rng)
    points = _points(rng, n)
    expected = b"".join(ref_x25519(secret, u) for u in points)
    assert x25519.multiply_own_hashes(secret, b"".join(points)) == expected
    assert x25519.multiply(secret, b"".join(points)) == expected


def test_both_backends_give_the_same_bytes_on_many_points(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(25519)
    secret = rng.randbytes(32)  # unclamped: both clamp it the same way
    packed = b"".join(_points(rng, 4099))
    results = {}
    for backend in BACKENDS:
        monkeypatch.setenv(x25519.BACKEND_VARIABLE, backend)
        results[backend] = x25519.multiply_own_hashes(secret, packed)
    assert len(set(results.values())) == 1
    assert len(results["openssl"]) == len(packed)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lane", [0, 3, 7, 8, 12])
def test_a_point_of_small_order_is_refused_with_its_index(backend: str, lane: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(x25519.BACKEND_VARIABLE, backend)
    rng = random.Random(lane)
    for u in LOW_ORDER_U:
        points = _points(rng, 13)
        points[lane] = u.to_bytes(32, "little")
        for multiply in (x25519.multiply, x25519.multiply_own_hashes):
            with pytest.raises(InvalidPoint) as info:
                multiply(clamped_scalar(rng), b"".join(points), base_index=1000)
            assert info.value.index == 1000 + lane


def _backend_in_fresh_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import json; from cleanroom.psi import x25519; print(json.dumps(x25519.backend()))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, check=False
    )


def test_without_crypto_mb_auto_falls_back_and_a_demand_for_it_is_refused(tmp_path: Path) -> None:
    nowhere = {cryptomb.DIRECTORY_VARIABLE: str(tmp_path)}
    auto = _backend_in_fresh_process({**nowhere, x25519.BACKEND_VARIABLE: "auto"})
    assert auto.returncode == 0, auto.stderr
    assert json.loads(auto.stdout) == "openssl"
    demanded = _backend_in_fresh_process({**nowhere, x25519.BACKEND_VARIABLE: "cryptomb"})
    assert demanded.returncode != 0
    assert "install the 'fast' extra" in demanded.stderr


def test_an_unknown_backend_is_refused_by_name() -> None:
    wrong = _backend_in_fresh_process({x25519.BACKEND_VARIABLE: "gmp"})
    assert wrong.returncode != 0
    assert "CLEANROOM_X25519='gmp'" in wrong.stderr and "auto, openssl, cryptomb" in wrong.stderr


def test_non_canonical_encodings_give_openssl_s_result_on_both(monkeypatch: pytest.MonkeyPatch) -> None:
    """Top bit set, or u >= p: RFC 7748 masks and reduces them. ``blind`` refuses them before multiplying;
    both functions must still agree with OpenSSL on them (they go to OpenSSL, as small order does)."""
    rng = random.Random(7)
    odd = [P + 2, P + 9, 2**255 - 1, (1 << 255) | 9, (1 << 255) | rng.randrange(2, P - 1)]
    packed = b"".join([*_points(rng, 5), *(u.to_bytes(32, "little") for u in odd)])
    secret = clamped_scalar(rng)
    results = set()
    for backend in BACKENDS:
        monkeypatch.setenv(x25519.BACKEND_VARIABLE, backend)
        results.add(x25519.multiply_own_hashes(secret, packed))
        results.add(x25519.multiply(secret, packed))
    assert len(results) == 1
    masked = b"".join(ref_x25519(secret, packed[i : i + 32]) for i in range(0, len(packed), 32))
    assert results == {masked}


def test_crypto_mb_itself_on_our_hash_outputs_and_small_order() -> None:
    """The library called directly (no routing): right on 20,000 of our hash outputs under two secrets,
    and every point of small order reported, with the others of its batch right."""
    engine = cryptomb.load()
    if engine is None:  # nothing to call: only where it must not load (the first test checks it loads elsewhere)
        assert not (_fast_extra_installed() and _cpu_has_ifma())
        return
    rng = random.Random(9)
    points = hash_to_points([f"acme-{i}.example" for i in range(20_000)], b"test/crypto_mb")
    for secret in (rng.randbytes(32), clamped_scalar(rng)):
        result, low = engine.multiply(secret, points)
        assert low == []
        assert result == x25519.multiply(secret, points)  # OpenSSL
    mixed = _points(rng, 6)
    at = [1, 4, 5, 9, 10]  # positions in the final list of 11
    for where, u in zip(at, LOW_ORDER_U, strict=True):
        mixed.insert(where, u.to_bytes(32, "little"))
    secret = clamped_scalar(rng)
    result, low = engine.multiply(secret, b"".join(mixed))
    # p - 1 comes back non-zero from crypto_mb (its flaw): the four others are caught by the zero check.
    assert set(low) == {where for where, u in zip(at, LOW_ORDER_U, strict=True) if u != P - 1}
    for i, u in enumerate(mixed):
        if i not in at:
            assert result[32 * i : 32 * i + 32] == ref_x25519(secret, u)


# Points on which crypto_mb 2026.2.0 is wrong (from the adversarial review): for the first three only
# when bit 253 of the clamped secret is 0, for the others always.
STRUCTURED = [P - 2, P - 3, 2**254 - 100, P - 1000, 2**89 - 1]


def _secret_with_bit_253(rng: random.Random, bit: int) -> bytes:
    raw = bytearray(rng.randbytes(32))
    raw[31] = (raw[31] & ~0x20) | (bit << 5)  # byte 31 bit 5 is scalar bit 253 (clamping keeps it)
    return bytes(raw)


@pytest.mark.parametrize("u", STRUCTURED, ids=[f"u{i}" for i in range(len(STRUCTURED))])
def test_points_someone_else_chose_never_reach_crypto_mb(u: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile partner or coordinator serves such a point for us to re-blind (a hidden canary, say):
    were it multiplied on crypto_mb, whether the result is right would tell it a bit of our secret, and
    a wrong result would get us named as a dishonest re-blinder. Every path that multiplies received
    points must give RFC 7748's result, crypto_mb demanded or not."""
    from cleanroom.psi import blind
    from cleanroom.psi.engine import local

    rng = random.Random(u)
    point = u.to_bytes(32, "little")
    batch = b"".join(_points(rng, 7)) + point  # in a full lane group, as real batches are
    for backend in BACKENDS:
        monkeypatch.setenv(x25519.BACKEND_VARIABLE, backend)
        for bit in (0, 1):
            secret = _secret_with_bit_253(rng, bit)
            right = ref_x25519(secret, point)
            assert blind(secret, batch, workers=1)[-32:] == right
            assert local().blind(secret, batch)[-32:] == right
            assert x25519.multiply(secret, batch)[-32:] == right
