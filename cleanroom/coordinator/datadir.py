"""The coordinator's data directory: CA, server certificate, signing key, store.

DIR/config.json        listen address and advertised address
DIR/ca.pem, ca.key     the CA that issues party certificates (key 0600)
DIR/server.pem, .key   the coordinator's TLS certificate
DIR/signing.key        Ed25519 key for audit entries, receipts, releases
DIR/signing.pub        its public half, for offline verification
DIR/coordinator.duckdb the store (0600; the directory is 0700)
DIR/parties.json       the parties issued a certificate (name, serial, when): one each; add-party writes it, and
                       enrolment mirrors its certificates here (the store is their record: enrolment.py)
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from cleanroom.coordinator.pki import KeyPair, check_party_name, create_ca, issue_party, issue_server
from cleanroom.crypto.keyfiles import write_private
from cleanroom.crypto.signing import Signer
from cleanroom.errors import InputError

DEFAULT_LISTEN = "127.0.0.1:50051"


def enroll_listen_beside(listen: str) -> str:
    """The enrolment port's default: the mTLS port's host, the next port (port 0: also 0, a free one)."""
    host, _, port = listen.rpartition(":")
    return f"{host}:{int(port) + 1 if port.isdigit() and int(port) else 0}"


PROFILE_FILE = "profile.json"
ISSUED_FILE = "parties.json"


@dataclass(frozen=True)
class DataDir:
    path: Path

    @property
    def store_path(self) -> Path:
        return self.path / "coordinator.duckdb"

    def config(self) -> dict[str, Any]:
        try:
            config: dict[str, Any] = json.loads((self.path / "config.json").read_text())
            return config
        except FileNotFoundError:
            raise InputError(
                f"{self.path} is not a coordinator data dir (run `cleanroom coordinator init --data-dir {self.path}`)"
            ) from None

    def ca(self) -> KeyPair:
        return KeyPair((self.path / "ca.pem").read_bytes(), (self.path / "ca.key").read_bytes())

    def server_pair(self) -> KeyPair:
        return KeyPair((self.path / "server.pem").read_bytes(), (self.path / "server.key").read_bytes())

    def signer(self) -> Signer:
        return Signer.load(self.path / "signing.key")

    def init(
        self, listen: str = DEFAULT_LISTEN, hosts: list[str] | None = None, enroll_listen: str | None = None
    ) -> dict[str, Any]:
        if (self.path / "config.json").exists():
            raise InputError(f"{self.path} already holds a coordinator; refusing to overwrite its keys")
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)  # keys, the store and the audit log: the operator's eyes only
        ca = create_ca()
        server = issue_server(ca, hosts or ["localhost", "127.0.0.1", "::1"])
        (self.path / "ca.pem").write_bytes(ca.cert_pem)
        write_private(self.path / "ca.key", ca.key_pem)
        (self.path / "server.pem").write_bytes(server.cert_pem)
        write_private(self.path / "server.key", server.key_pem)
        signer = Signer.create(self.path / "signing.key")
        (self.path / "signing.pub").write_bytes(signer.public_pem)
        enroll = enroll_listen or enroll_listen_beside(listen)
        config = {"listen": listen, "advertise": listen, "enroll_listen": enroll, "enroll_advertise": enroll}
        (self.path / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        return config

    def add_party(self, name: str, out: Path, address: str | None = None) -> Path:
        """Issue a party certificate and write the client profile directory (once per party name)."""
        check_party_name(name)
        config = self.config()
        issued = self.issued()
        if name in issued:
            raise InputError(
                f"party {name!r} already holds a certificate (issued {issued[name]['issued_at']}); a second one would "
                "let two key holders act as it. Nothing was issued."
            )
        pair = issue_party(self.ca(), name)
        out.mkdir(parents=True, exist_ok=True)
        (out / "ca.pem").write_bytes((self.path / "ca.pem").read_bytes())
        (out / "party.pem").write_bytes(pair.cert_pem)
        write_private(out / "party.key", pair.key_pem)
        (out / "coordinator-signing.pub").write_bytes((self.path / "signing.pub").read_bytes())
        profile = {"party": name, "coordinator": address or config["advertise"], "server_name": "localhost"}
        (out / PROFILE_FILE).write_text(json.dumps(profile, indent=2) + "\n")
        serial = format(x509.load_pem_x509_certificate(pair.cert_pem).serial_number, "x")
        issued[name] = {"serial": serial, "issued_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        (self.path / ISSUED_FILE).write_text(json.dumps(issued, indent=2, sort_keys=True) + "\n")
        return out

    def enroll_listen(self) -> str:
        """Where the enrolment port listens (data dirs from before enrolment: the default)."""
        config = self.config()
        return str(config.get("enroll_listen") or enroll_listen_beside(str(config["listen"])))

    def record_issued(self, name: str, serial: str, origin: str) -> None:
        """Mirror a certificate the CA signed from a party's CSR into the registry add-party reads (atomically)."""
        issued = self.issued()
        issued[name] = {"serial": serial, "issued_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "origin": origin}
        tmp = self.path / (ISSUED_FILE + ".tmp")
        tmp.write_text(json.dumps(issued, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path / ISSUED_FILE)

    def issued(self) -> dict[str, dict[str, str]]:
        """The parties issued a certificate so far: name -> serial and time."""
        try:
            found: dict[str, dict[str, str]] = json.loads((self.path / ISSUED_FILE).read_text())
            return found
        except FileNotFoundError:
            return {}
