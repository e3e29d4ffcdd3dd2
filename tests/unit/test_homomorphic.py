"""Exponential EC-ElGamal (cleanroom.homomorphic): ground truth from pycryptodome's own arithmetic and Python's sums."""

from __future__ import annotations

import random

import pytest
from Crypto.PublicKey import ECC

from cleanroom.errors import InvalidArgument
from cleanroom.homomorphic import (
    CIPHERTEXT_SIZE,
    Ciphertext,
    PublicKey,
    decode_point,
    decrypt,
    discrete_log,
    encode_point,
    encrypt,
    encrypt_many,
    generate,
    rerandomise,
    scale,
    sum_ciphertexts,
)
from cleanroom.homomorphic.fixedbase import FixedBase

G = ECC._curves["p256"].G
N = int(ECC._curves["p256"].order)


def test_fixed_base_multiplication_agrees_with_pycryptodome():
    base = G * 987654321
    table = FixedBase(base)
    rng = random.Random(1)
    for k in [1, 2, 255, 256, 257, N - 1, *(rng.randrange(N) for _ in range(20))]:
        assert table.mul(k) == base * k


def test_encoding_round_trips_and_matches_sec1():
    point = G * 42
    data = encode_point(point)
    # Independent: pycryptodome's own SEC1 export of the same point.
    assert data == ECC.EccKey(curve="p256", point=point).export_key(format="raw", compress=False)
    assert decode_point(data) == point


def test_sums_decrypt_to_the_python_sum():
    keys = generate()
    rng = random.Random(7)
    values = [rng.randrange(0, 5_000) for _ in range(60)]
    blob = encrypt_many(keys.public, values)
    assert len(blob) == CIPHERTEXT_SIZE * len(values)
    cts = [Ciphertext.from_bytes(blob[i * CIPHERTEXT_SIZE : (i + 1) * CIPHERTEXT_SIZE]) for i in range(len(values))]
    subset = [i for i in range(len(values)) if rng.random() < 0.5]
    total = rerandomise(keys.public, sum_ciphertexts(cts[i] for i in subset))
    assert decrypt(keys, total, 0, 5_000 * len(values)) == sum(values[i] for i in subset)


def test_negative_values_scale_and_noise():
    keys = generate()
    c = encrypt(keys.public, 1_234)
    noisy = sum_ciphertexts([c, encrypt(keys.public, -2_000)])
    assert decrypt(keys, noisy, -10_000, 10_000) == -766
    assert decrypt(keys, scale(c, 3), 0, 10_000) == 3_702


def test_rerandomising_changes_every_byte_pattern_but_not_the_plaintext():
    keys = generate()
    c = encrypt(keys.public, 77)
    r = rerandomise(keys.public, c)
    assert r.c1 != c.c1 and r.c2 != c.c2
    assert decrypt(keys, r, 0, 100) == 77


def test_a_wrong_key_or_a_short_bound_is_an_error_not_a_wrong_number():
    keys, other = generate(), generate()
    c = encrypt(keys.public, 500)
    with pytest.raises(InvalidArgument, match="not in"):
        decrypt(keys, c, 0, 499)
    with pytest.raises(InvalidArgument, match="not in"):
        decrypt(other, c, 0, 10_000)


def test_discrete_log_over_ranges_that_cross_table_boundaries():
    for m in [0, 1, 255, 256, 257, 65_535, 65_536, 1_000_003]:
        assert discrete_log(G * m if m else G.point_at_infinity(), 0, 2_000_000) == m
    assert discrete_log(G * (N - 3), -5, 5) == -3


def test_malformed_points_are_refused_with_the_reason():
    good = encrypt(generate().public, 1).to_bytes()
    with pytest.raises(InvalidArgument, match="expected 130 bytes"):
        Ciphertext.from_bytes(good[:-1], "account 3")
    off_curve = good[:64] + bytes([good[64] ^ 1]) + good[65:]
    with pytest.raises(InvalidArgument, match="account 3: not a point on P-256"):
        Ciphertext.from_bytes(off_curve, "account 3")
    with pytest.raises(InvalidArgument, match="uncompressed"):
        decode_point(b"\x02" + good[1:65])
    with pytest.raises(InvalidArgument, match="generator"):
        PublicKey.from_bytes(encode_point(G))
