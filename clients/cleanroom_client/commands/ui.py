"""``cleanroom-client ui [--port P]``: this party's own pages in a browser, served on 127.0.0.1 only."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from cleanroom.errors import InputError
from cleanroom_client.profile import Profile


def _ui(args: argparse.Namespace) -> int:
    import uvicorn

    from cleanroom_client.features.targets import ScoringConfig
    from cleanroom_client.ui.app import create_app, new_token

    profile = Profile.load(args.profile)
    scoring = ScoringConfig.load(Path(args.scoring) if args.scoring else None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", args.port))  # loopback only, whatever the machine's interfaces
    except OSError as exc:
        raise InputError(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); choose another --port") from None
    port = sock.getsockname()[1]
    token = new_token()
    url = f"http://127.0.0.1:{port}/?token={token}"
    print(f"Cleanroom local view for {profile.party}: {url}", flush=True)
    print("(only this machine can connect; the link carries this session's token; Ctrl-C stops)", file=sys.stderr, flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    app = create_app(profile, token, port, scoring)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ui", help="your agreements, overlap heat maps, co-sell targets and receipts in a local browser view")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0 picks a free one)")
    p.add_argument("--open", action="store_true", help="open the page in your web browser")
    p.add_argument("--scoring", metavar="FILE", help="JSON file overriding the target score's weights and values")
    p.set_defaults(handler=_ui)
