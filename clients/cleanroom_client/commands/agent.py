"""``cleanroom-client agent --watch PATH``: keep the party current unattended (features/agent.py)."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from pathlib import Path

from cleanroom.errors import InputError
from cleanroom.protocol import MAX_CHUNK_POINTS
from cleanroom.terminal import durations
from cleanroom_client.commands.map import add_file_options, load
from cleanroom_client.features.agent import Agent, AgentConfig
from cleanroom_client.features.agent_log import ActionLog
from cleanroom_client.features.agent_mapping import MapSettings
from cleanroom_client.features.agent_stop import StopFlag, stop_on_signals
from cleanroom_client.features.shrink_guard import DEFAULT_MAX_SHRINK
from cleanroom_client.inputs.accounts import LoadResult
from cleanroom_client.profile import Profile


def parse_duration(value: str) -> float:
    """Seconds in "90", "90s", "15m", "2h", "1d" (a fraction is fine: "0.5s"), for argparse."""
    try:
        seconds = durations.parse_duration(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: must be more than zero")
    return seconds


def _number(fits: Callable[[float], bool], wanted: str) -> Callable[[str], float]:
    """An argparse type: a number that ``fits``, else the value refused with what is ``wanted``."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not fits(number):
            raise argparse.ArgumentTypeError(f"{value!r}: {wanted}")
        return number

    return parse


_share = _number(lambda v: 0.0 <= v <= 1.0, "give a share between 0 and 1 (0.2 = 20%)")
_seconds = _number(lambda v: not v < 0, "give seconds, zero or more")  # as written: NaN is not below zero


def _agent(args: argparse.Namespace) -> int:
    if args.backoff_cap < args.backoff_base:
        raise InputError(f"--backoff-cap ({args.backoff_cap:g} s) must be at least --backoff-base ({args.backoff_base:g} s)")
    watch = Path(args.watch)
    if not watch.exists() and not watch.parent.is_dir():
        # A file not written yet is fine (the agent waits for it); a path nothing can ever appear at is a typo.
        raise InputError(f"--watch {watch}: neither it nor its directory {watch.parent} exists")
    profile = Profile.load(args.profile)

    def read(path: Path, name_key: bool, keep_fields: bool) -> LoadResult:
        file_args = copy.copy(args)
        file_args.file = str(path)  # map's loader reads args.file with the file options given
        return load(file_args, name_key, keep_fields)

    config = AgentConfig(
        MapSettings(watch, args.max_shrink, args.allow_shrink, args.wait, args.settle, MAX_CHUNK_POINTS),
        interval=args.interval,
        once=args.once,
        backoff_base=args.backoff_base,
        backoff_cap=args.backoff_cap,
    )
    with stop_on_signals(StopFlag()) as stop:
        return Agent(profile, config, read, ActionLog(), stop).run()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "agent",
        help="keep mapping a watched export under every active agreement, unattended (logs JSON lines)",
        description="Each cycle: re-blind what partners uploaded; map the export when it is new or changed "
        "(or an agreement has not taken it, or a partner's run waits for it); receive new releases and send "
        "alerts. One JSON line per action on stdout. Stops cleanly on SIGTERM/SIGINT.",
    )
    p.add_argument("--watch", required=True, metavar="PATH", help="an export file, or a directory: its newest CSV/Parquet/XLSX")
    p.add_argument(
        "--interval", type=parse_duration, default=900.0, metavar="DURATION", help="time between cycles (default 15m; s/m/h/d)"
    )
    p.add_argument(
        "--max-shrink",
        type=_share,
        default=DEFAULT_MAX_SHRINK,
        metavar="SHARE",
        help=f"refuse an export with more than this share fewer accounts than the last one mapped (default {DEFAULT_MAX_SHRINK})",
    )
    p.add_argument("--allow-shrink", action="store_true", help="map an export however many accounts it lost")
    p.add_argument("--once", action="store_true", help="one cycle, then exit (1 if it did not go through): for cron")
    p.add_argument(
        "--wait",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long a map waits for partners (later cycles pick up the rest)",
    )
    # For tests and the impatient; not part of the interface.
    p.add_argument("--settle", type=_seconds, default=2.0, help=argparse.SUPPRESS)
    p.add_argument("--backoff-base", type=parse_duration, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--backoff-cap", type=parse_duration, default=300.0, help=argparse.SUPPRESS)
    add_file_options(p)
    p.set_defaults(handler=_agent)
