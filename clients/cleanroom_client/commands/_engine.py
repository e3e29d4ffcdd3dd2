"""``--engine local|ray [--ray-address HOST:PORT]``: where a command's hashing, blinding and re-blinding run."""

from __future__ import annotations

import argparse
import os
from contextlib import AbstractContextManager, nullcontext

from cleanroom.errors import EngineUnavailable
from cleanroom.psi.engine import ENGINES, Engine, using


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where hashing and blinding run: this machine's cores (local, the default) or your own Ray cluster "
        "(ray: pip install 'cleanroom[ray]'; the cluster receives your keys and secrets, see the README)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="HOST:PORT",
        help="the Ray head node's address, as `ray start --head` prints it (default: $RAY_ADDRESS)",
    )


def open_engine(args: argparse.Namespace) -> AbstractContextManager[Engine | None]:
    """The engine the command asked for, current for the body; the local pool needs nothing.

    Connected before the profile, the file or the coordinator is touched: a cluster that does not
    answer stops the command with nothing read or sent.
    """
    if getattr(args, "engine", "local") != "ray":
        if getattr(args, "ray_address", None):
            raise EngineUnavailable("--ray-address is for --engine ray")
        return nullcontext()
    from cleanroom.psi.ray_engine import RayEngine  # lazily: Ray is an optional extra

    address = args.ray_address or os.environ.get("RAY_ADDRESS", "")
    if not address:
        raise EngineUnavailable("--engine ray needs the cluster's head: --ray-address HOST:PORT (or RAY_ADDRESS)")
    return using(RayEngine.connect(address))
