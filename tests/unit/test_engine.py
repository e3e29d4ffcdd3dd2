"""The engine choice (cleanroom/psi/engine.py, ray_engine.py, the client's --engine): the local engine's
tokens against X25519 itself, the current engine restored, Ray's address checked before anything else,
and a client without Ray installed that still works and says in one line how to get it.

The Ray cluster itself is exercised end to end, on two real nodes, in tests/e2e/test_e2e_ray.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cleanroom.demo.raycluster import free_port
from cleanroom.errors import EngineUnavailable
from cleanroom.psi import engine as engines
from cleanroom.psi import hash_to_point, new_secret
from cleanroom.psi.ray_engine import check_reachable, parse_address


def _x25519(secret: bytes, point: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).exchange(X25519PublicKey.from_public_bytes(point))


def test_the_local_engine_multiplies_as_x25519_does():
    secret, other = new_secret(), new_secret()
    keys = [f"acme{i}.com" for i in range(50)]
    blinded = engines.local().hash_and_blind(keys, b"agr/domain", secret)
    expected = [_x25519(secret, hash_to_point(k, b"agr/domain")) for k in keys]
    assert blinded == b"".join(expected)
    assert engines.local().blind(other, blinded) == b"".join(_x25519(other, p) for p in expected)


class _Recording:
    name = "recording"

    def __init__(self) -> None:
        self.closed = 0

    def hash_and_blind(self, keys, context, secret, progress=None):  # pragma: no cover - never called here
        raise AssertionError

    def blind(self, secret, points, progress=None):  # pragma: no cover - never called here
        raise AssertionError

    def close(self) -> None:
        self.closed += 1


def test_using_makes_an_engine_current_then_restores_the_previous_one_and_closes_it_even_on_error():
    assert engines.current() is engines.local()
    outer, inner = _Recording(), _Recording()
    with engines.using(outer):
        with pytest.raises(RuntimeError), engines.using(inner):
            assert engines.current() is inner
            raise RuntimeError("the command failed")
        assert engines.current() is outer and inner.closed == 1 and outer.closed == 0
    assert engines.current() is engines.local() and outer.closed == 1


@pytest.mark.parametrize("address", ["ray://10.0.0.5:10001", "10.0.0.5", ":6379", "head:port", "head:0", "head:70000"])
def test_a_ray_address_that_is_not_host_port_is_refused_in_one_line(address):
    with pytest.raises(EngineUnavailable) as refused:
        parse_address(address)
    assert address in str(refused.value) and "\n" not in str(refused.value)


def test_ray_addresses_as_the_head_prints_them():
    assert parse_address("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert parse_address("[::1]:6379") == ("::1", 6379)
    assert parse_address("ray-head.internal:6380") == ("ray-head.internal", 6380)


def test_a_head_that_does_not_answer_is_named_with_what_to_do():
    nobody = f"127.0.0.1:{free_port()}"  # just freed: nothing listens there
    with pytest.raises(EngineUnavailable) as refused:
        check_reachable(nobody, timeout=2.0)
    assert f"the Ray cluster at {nobody} does not answer" in str(refused.value)
    assert "Nothing was read or sent" in str(refused.value)


# Run as a separate interpreter in which `import ray` fails, as it does where the extra is not installed.
_WITHOUT_RAY = "import sys; sys.modules['ray'] = None\n"


def _without_ray(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT_RAY + code], capture_output=True, text=True, timeout=120)


def test_the_client_works_without_ray_and_never_imports_it_unasked(tmp_path: Path):
    export = tmp_path / "accounts.csv"
    export.write_text("Website,Type\nacme.com,Customer\n")
    inspect = f"from cleanroom_client.cli import main\ncode = main(['inspect', {str(export)!r}, '--json'])\n"
    done = _without_ray(inspect + "sys.exit(code)\n")
    assert done.returncode == 0, done.stderr
    assert "acme.com" in done.stdout
    # Where Ray is installed, a local command does not pay for importing it (about a second).
    unasked = subprocess.run(
        [sys.executable, "-c", "import sys\n" + inspect + "assert 'ray' not in sys.modules, 'ray imported'\nsys.exit(code)\n"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unasked.returncode == 0, unasked.stderr


@pytest.mark.parametrize(
    "command", [["map", "agr_x", "missing.csv"], ["sync"], ["attribution", "run", "--agreements", "agr_x", "--deals", "d.csv"]]
)
def test_engine_ray_without_ray_installed_fails_in_one_line_saying_how_to_install_it(tmp_path: Path, command):
    argv = ["--profile", str(tmp_path / "no-profile"), *command, "--engine", "ray", "--ray-address", "127.0.0.1:6379"]
    done = _without_ray(f"from cleanroom_client.cli import main\nsys.exit(main({argv!r}))\n")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'cleanroom[ray]'" in lines[0], done.stderr


def test_ray_address_without_engine_ray_is_refused(tmp_path: Path):
    argv = ["--profile", str(tmp_path / "p"), "sync", "--ray-address", "127.0.0.1:6379"]
    done = subprocess.run([sys.executable, "-m", "cleanroom_client.cli", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--ray-address is for --engine ray" in done.stderr
