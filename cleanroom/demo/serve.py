"""`cleanroom demo --serve`: after the demo, keep its coordinator up with the REST API and pages.

Creates an analyst and an auditor key for the vendor (and an admin key, for
making more keys over REST), restarts the demo's coordinator with `--http` on
loopback, prints the URL and the keys, and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading

from cleanroom.demo.localrun import LocalCoordinator
from cleanroom.errors import InputError


def serve_after_demo(coordinator: LocalCoordinator, port: int) -> None:
    """``coordinator`` must be stopped (the demo stops it to verify the audit log offline)."""
    keys = {
        "vendor analyst (partner overview, attribution)": coordinator.add_api_key("vendor", "analyst"),
        "vendor auditor (audit trail, disclosure reports)": coordinator.add_api_key("vendor", "auditor"),
        "admin (everything; POST /v1/api-keys makes more keys)": coordinator.add_api_key("", "admin"),
    }
    coordinator.http, coordinator.http_port = True, port
    try:
        coordinator.start()
    except Exception as exc:
        raise InputError(f"could not serve the pages on 127.0.0.1:{port} ({exc}); is the port in use? try --serve 0") from None
    lines = [
        "",
        f"Cleanroom is serving the demo's results at {coordinator.http_url}/  (REST API: {coordinator.http_url}/v1, "
        f"OpenAPI: {coordinator.http_url}/v1/openapi.json, metrics: {coordinator.http_url}/metrics)",
        "Log in with one of these API keys (shown once; stored hashed):",
        *(f"  {who:<55} {key}" for who, key in keys.items()),
        f"gRPC (mTLS) stays on {coordinator.address}; data in {coordinator.data_dir}. Ctrl-C stops it.",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
    stop = threading.Event()
    # Ctrl-C and SIGTERM both end it (SIGINT explicitly: a shell starts background jobs with it ignored).
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            if coordinator.process is None or coordinator.process.poll() is not None:
                raise InputError(f"the coordinator stopped; see {coordinator.data_dir / 'coordinator.log'}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopping the coordinator", file=sys.stderr, flush=True)
        coordinator.stop()
