"""Property tests of cleanroom.psi: commutativity, order, determinism, domain separation,
the multi-process path, and every way blind() refuses its input."""

from __future__ import annotations

import hashlib
import pickle
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanroom.errors import InputError
from cleanroom.psi import (
    InvalidPoint,
    blind,
    blinding,
    hash_and_blind,
    hash_to_point,
    hash_to_points,
    new_secret,
    shutdown_pool,
)
from cleanroom.psi.blinding import IN_PROCESS_MAX, POOL_MIN_POINTS, _blind_slice
from cleanroom.psi.group import LOW_ORDER_U

P = 2**255 - 19
A = 486662
CTX = b"test/agreement-1/domain"
ZERO = bytes(32)

secrets_ = st.binary(min_size=32, max_size=32)
utf8_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
keys_ = st.lists(st.one_of(utf8_text, st.binary(max_size=40)), min_size=1, max_size=12)
fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def _stop_pool():
    yield
    shutdown_pool()


def split(packed: bytes) -> list[bytes]:
    assert len(packed) % 32 == 0
    return [packed[i : i + 32] for i in range(0, len(packed), 32)]


def assert_no_zero_token(packed: bytes) -> None:
    assert ZERO not in split(packed), "an all-zero token was returned"


def clamp(k: bytes) -> int:
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


@pytest.fixture(scope="module")
def big_points() -> bytes:
    """More points than IN_PROCESS_MAX, so workers > 1 really uses the pool."""
    return hash_to_points([f"big-{i}.example.org" for i in range(2 * IN_PROCESS_MAX + 301)], CTX)


# --------------------------------------------------------------------------
# Algebra.


@fast
@given(a=secrets_, b=secrets_, keys=keys_)
def test_blinding_commutes(a: bytes, b: bytes, keys: list) -> None:
    pts = hash_to_points(keys, CTX)
    ab = blind(a, blind(b, pts))
    ba = blind(b, blind(a, pts))
    assert ab == ba
    assert len(ab) == len(pts)
    assert_no_zero_token(ab)
    # Not vacuous: blinding changes the points, and a different scalar gives different tokens.
    assert all(x != y for x, y in zip(split(blind(a, pts)), split(pts), strict=True))
    if clamp(a) != clamp(b):
        assert blind(a, pts) != blind(b, pts)


@fast
@given(secret=secrets_, keys=keys_, data=st.data())
def test_order_is_preserved(secret: bytes, keys: list, data) -> None:
    pts = split(hash_to_points(keys, CTX))
    perm = data.draw(st.permutations(range(len(pts))))
    out = split(blind(secret, b"".join(pts)))
    out_perm = split(blind(secret, b"".join(pts[i] for i in perm)))
    assert out_perm == [out[i] for i in perm]
    # Point by point: each output is the blinding of the point at that position.
    assert out == [blind(secret, p) for p in pts]


@fast
@given(secret=secrets_, keys=st.lists(utf8_text, max_size=30))
def test_blind_length_and_determinism(secret: bytes, keys: list) -> None:
    pts = hash_to_points(keys, CTX)
    out = blind(secret, pts)
    assert len(out) == len(pts) == 32 * len(keys)
    assert blind(secret, pts) == out
    assert blind(secret, bytearray(pts), workers=1) == out
    assert hash_to_points(keys, CTX) == pts
    assert_no_zero_token(out)


def test_blind_of_nothing_is_nothing() -> None:
    assert blind(new_secret(), b"") == b""
    assert hash_to_points([], CTX) == b""
    assert hash_and_blind([], CTX, new_secret()) == b""


def test_new_secret_is_fresh() -> None:
    s = {new_secret() for _ in range(50)}
    assert len(s) == 50 and all(len(x) == 32 for x in s)


# --------------------------------------------------------------------------
# Hash to group.


def _spec_hash_to_point(key: bytes, context: bytes) -> bytes:
    """DESIGN.md, written out independently: SHA-256 over 4-byte big-endian
    length-prefixed ("cleanroom/psi/v1", context, key, counter), little-endian,
    top bit cleared, mod p; counter raised until u is on the curve."""

    def frame(*fields: bytes) -> bytes:
        return b"".join(len(f).to_bytes(4, "big") + f for f in fields)

    for counter in range(256):
        d = hashlib.sha256(frame(b"cleanroom/psi/v1", context, key, counter.to_bytes(4, "big"))).digest()
        u = (int.from_bytes(d, "little") & ((1 << 255) - 1)) % P
        if pow((u**3 + A * u * u + u) % P, (P - 1) // 2, P) == 1 and u not in LOW_ORDER_U:
            return u.to_bytes(32, "little")
    raise AssertionError("no curve point in 256 tries")


@fast
@given(key=st.one_of(utf8_text, st.binary(max_size=40)), context=st.binary(max_size=20))
def test_hash_follows_the_design(key, context: bytes) -> None:
    raw = key.encode() if isinstance(key, str) else key
    assert hash_to_point(key, context) == _spec_hash_to_point(raw, context)


def test_hash_needs_the_counter_sometimes() -> None:
    # About half of all first candidates are on the twist; the counter must be used.
    used_counter = 0
    for i in range(64):
        d = hashlib.sha256(
            b"".join(len(f).to_bytes(4, "big") + f for f in (b"cleanroom/psi/v1", CTX, b"k%d" % i, struct.pack(">I", 0)))
        ).digest()
        first = ((int.from_bytes(d, "little") & ((1 << 255) - 1)) % P).to_bytes(32, "little")
        used_counter += hash_to_point(b"k%d" % i, CTX) != first
    assert 10 < used_counter < 54


@fast
@given(key=utf8_text, c1=st.binary(max_size=20), c2=st.binary(max_size=20))
def test_contexts_separate_domains(key: str, c1: bytes, c2: bytes) -> None:
    if c1 != c2:
        assert hash_to_point(key, c1) != hash_to_point(key, c2)
    else:
        assert hash_to_point(key, c1) == hash_to_point(key, c2)


@pytest.mark.parametrize(
    ("ctx1", "key1", "ctx2", "key2"),
    [
        (b"a", "bc", b"ab", "c"),
        (b"", "abc", b"abc", ""),
        (b"ab", "", b"a", "b"),
        (b"a\x00\x00\x00\x01", "b", b"a", "\x00\x00\x00\x01b"),  # a forged length prefix
    ],
)
def test_framing_collisions_are_impossible(ctx1: bytes, key1: str, ctx2: bytes, key2: str) -> None:
    # Each pair would collide under plain concatenation; the length prefixes must separate them.
    assert ctx1 + key1.encode() == ctx2 + key2.encode()
    assert hash_to_point(key1, ctx1) != hash_to_point(key2, ctx2)


@fast
@given(key=utf8_text)
def test_str_and_utf8_bytes_give_the_same_point(key: str) -> None:
    assert hash_to_points([key], CTX) == hash_to_points([key.encode("utf-8")], CTX)
    assert hash_to_point(key, CTX) == hash_to_point(key.encode("utf-8"), CTX)


@fast
@given(keys=st.lists(st.binary(max_size=16), min_size=2, max_size=10, unique=True))
def test_distinct_keys_give_distinct_points(keys: list) -> None:
    pts = split(hash_to_points(keys, CTX))
    assert len(set(pts)) == len(keys)
    assert pts == [hash_to_point(k, CTX) for k in keys]


def test_hash_rejects_bad_types() -> None:
    with pytest.raises(InputError):
        hash_to_points(["a"], "not-bytes")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        hash_to_points([12], CTX)  # type: ignore[list-item]


# --------------------------------------------------------------------------
# The multi-process path.


def test_pool_gives_the_in_process_result(big_points: bytes) -> None:
    secret = new_secret()
    expected = blind(secret, big_points, workers=1)
    seen: list[int] = []
    assert blind(secret, big_points, workers=2, progress=seen.append) == expected
    assert sum(seen) == len(big_points) // 32 and len(seen) > 1
    assert blind(secret, big_points) == expected  # workers=None
    assert_no_zero_token(expected)
    # Spot check against single-point blinding, across slice boundaries.
    for i in (0, IN_PROCESS_MAX - 1, IN_PROCESS_MAX, len(big_points) // 32 - 1):
        assert expected[32 * i : 32 * i + 32] == blind(secret, big_points[32 * i : 32 * i + 32])


def test_left_to_choose_blinding_starts_a_pool_only_for_enough_points() -> None:
    # An incremental run blinds a few thousand points: a pool's start (~0.2 CPU s) would cost more than it saves.
    secret = new_secret()
    points = hash_to_points([f"few-{i}.example" for i in range(POOL_MIN_POINTS + 1)], CTX)
    blinding.shutdown_pool()
    few = blind(secret, points[: 32 * POOL_MIN_POINTS])
    assert blinding._pool is None
    many = blind(secret, points)
    assert blinding._pool is not None
    assert many == blind(secret, points, workers=1) and few == many[: 32 * POOL_MIN_POINTS]


def test_pool_commutes(big_points: bytes) -> None:
    a, b = new_secret(), new_secret()
    assert blind(a, blind(b, big_points, workers=2), workers=2) == blind(b, blind(a, big_points, workers=1), workers=1)


@settings(max_examples=15, deadline=None)
@given(secret=secrets_, keys=keys_)
def test_hash_and_blind_equals_blind_of_hash(secret: bytes, keys: list) -> None:
    assert hash_and_blind(keys, CTX, secret) == blind(secret, hash_to_points(keys, CTX))
    assert hash_and_blind(iter(keys), CTX, secret, workers=1) == blind(secret, hash_to_points(keys, CTX))


def test_hash_and_blind_multi_process() -> None:
    keys = [f"hb-{i}.example.net" for i in range(2 * IN_PROCESS_MAX + 77)]
    secret = new_secret()
    expected = blind(secret, hash_to_points(keys, CTX), workers=1)
    seen: list[int] = []
    assert hash_and_blind(keys, CTX, secret, workers=2, progress=seen.append) == expected
    assert sum(seen) == len(keys)
    assert hash_and_blind(keys, CTX, secret) == expected


def test_hash_and_blind_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        hash_and_blind(["a"], "ctx", new_secret())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        hash_and_blind(["a"], CTX, bytes(31))
    with pytest.raises(ValueError):
        hash_and_blind(["a"], CTX, new_secret(), workers=0)
    keys = [f"k{i}" for i in range(IN_PROCESS_MAX + 5)] + [3.5]
    with pytest.raises(InputError):
        hash_and_blind(keys, CTX, new_secret(), workers=2)  # raised in a worker, re-raised here


# --------------------------------------------------------------------------
# Rejections.


@pytest.mark.parametrize("size", [1, 31, 33, 63, 65, 32 * (IN_PROCESS_MAX + 10) + 1])
def test_length_not_a_multiple_of_32(size: int) -> None:
    data = random.Random(size).randbytes(size)
    for workers in (None, 1, 2):
        with pytest.raises(InvalidPoint, match="multiple of 32") as info:
            blind(new_secret(), data, workers=workers)
        assert info.value.index is None


LOW = [u.to_bytes(32, "little") for u in LOW_ORDER_U]


@pytest.mark.parametrize("point", LOW, ids=[f"u{i}" for i in range(len(LOW))])
def test_low_order_point_alone(point: bytes) -> None:
    with pytest.raises(InvalidPoint) as info:
        blind(new_secret(), point)
    assert info.value.index == 0


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("where", [0, 1777, IN_PROCESS_MAX + 500, "last"])
def test_low_order_point_hidden_in_a_big_batch(big_points: bytes, workers: int, where) -> None:
    pts = split(big_points)
    index = len(pts) - 1 if where == "last" else where
    for bad in LOW:
        batch = [*pts[:index], bad, *pts[index + 1 :]]
        with pytest.raises(InvalidPoint) as info:
            blind(new_secret(), b"".join(batch), workers=workers)
        assert info.value.index == index


def test_first_bad_point_is_reported(big_points: bytes) -> None:
    pts = split(big_points)
    pts[900], pts[3000] = LOW[2], LOW[3]
    with pytest.raises(InvalidPoint) as info:
        blind(new_secret(), b"".join(pts), workers=2)
    assert info.value.index == 900


def test_worker_side_zero_check_reports_the_global_index() -> None:
    # check_points() catches every low-order point before the workers see it; the
    # worker's own check is the second line of defence, so test it directly.
    pts = split(hash_to_points([f"w{i}" for i in range(10)], CTX))
    pts[6] = LOW[4]
    with pytest.raises(InvalidPoint) as info:
        _blind_slice(new_secret(), b"".join(pts), base_index=5000)
    assert info.value.index == 5006
    clone = pickle.loads(pickle.dumps(info.value))  # it must cross the process boundary intact
    assert isinstance(clone, InvalidPoint) and clone.index == 5006 and str(clone) == str(info.value)


@pytest.mark.parametrize("workers", [1, 2])
def test_top_bit_set_is_not_canonical(big_points: bytes, workers: int) -> None:
    pts = split(big_points)
    good = pts[1234]
    pts[1234] = good[:31] + bytes([good[31] | 0x80])
    with pytest.raises(InvalidPoint, match="top bit") as info:
        blind(new_secret(), b"".join(pts), workers=workers)
    assert info.value.index == 1234
    with pytest.raises(InvalidPoint, match="top bit"):
        blind(new_secret(), pts[1234])


@pytest.mark.parametrize("u", [P, P + 1, P + 2, 2**255 - 1], ids=["p", "p+1", "p+2", "2^255-1"])
@pytest.mark.parametrize("workers", [1, 2])
def test_u_at_least_p_is_not_canonical(big_points: bytes, u: int, workers: int) -> None:
    bad = u.to_bytes(32, "little")
    with pytest.raises(InvalidPoint, match="u >= p") as info:
        blind(new_secret(), bad)
    assert info.value.index == 0
    pts = split(big_points)
    pts[IN_PROCESS_MAX + 1] = bad
    with pytest.raises(InvalidPoint) as info:
        blind(new_secret(), b"".join(pts), workers=workers)
    assert info.value.index == IN_PROCESS_MAX + 1


@pytest.mark.parametrize("u", [P - 2, P - 256, P - 2**248, 2, 9, 2**254])
def test_canonical_points_near_the_limits_are_accepted(u: int) -> None:
    out = blind(new_secret(), u.to_bytes(32, "little"))
    assert len(out) == 32 and out != ZERO


@pytest.mark.parametrize("secret", [b"", bytes(31), bytes(33), bytes(64), "x" * 32, None])
def test_wrong_secret(secret) -> None:
    pts = hash_to_points(["a", "b"], CTX)
    with pytest.raises(ValueError, match="32 bytes"):
        blind(secret, pts)  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [0, -1])
def test_workers_must_be_positive(workers: int) -> None:
    pts = hash_to_points(["a"], CTX)
    with pytest.raises(ValueError, match="workers"):
        blind(new_secret(), pts, workers=workers)


_edge_points = st.sampled_from(LOW + [u.to_bytes(32, "little") for u in (P, P + 1, P - 2, 2**255 - 1, 2, 9)])
_any_point = st.one_of(st.binary(min_size=32, max_size=32), _edge_points)


@fast
@given(secret=secrets_, data=st.lists(_any_point, min_size=1, max_size=6).map(b"".join))
def test_arbitrary_bytes_are_blinded_or_rejected_never_zero(secret: bytes, data: bytes) -> None:
    try:
        out = blind(secret, data)
    except InvalidPoint as e:
        assert e.index is not None and 0 <= e.index < len(data) // 32
        bad = int.from_bytes(data[32 * e.index : 32 * e.index + 32], "little")
        assert bad >= P or bad in LOW_ORDER_U
    else:
        assert len(out) == len(data)
        assert_no_zero_token(out)
        assert all(int.from_bytes(p, "little") < P and int.from_bytes(p, "little") not in LOW_ORDER_U for p in split(data))
