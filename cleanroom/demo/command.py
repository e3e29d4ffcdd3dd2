"""``cleanroom demo``: the command, plugged into ``cleanroom`` through the ``cleanroom.commands`` entry point."""

from __future__ import annotations

import argparse


def _demo(args: argparse.Namespace) -> int:
    from cleanroom.demo.run import run_demo

    return run_demo(args)


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run a coordinator and two parties end to end on generated data")
    demo.add_argument("--json", action="store_true", help="print the results as one JSON object")
    demo.add_argument("--vendor-accounts", type=int, default=20_000)
    demo.add_argument("--partner-accounts", type=int, default=15_000)
    demo.add_argument("--overlap", type=int, default=4_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--deals", type=int, default=5_000, help="vendor opportunities for the attribution part")
    demo.add_argument("--touches", type=int, default=4_000, help="touchpoints per partner for the attribution part")
    demo.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary dir)")
    demo.add_argument(
        "--serve",
        metavar="PORT",
        type=int,
        nargs="?",
        const=8080,
        help="afterwards keep the coordinator up with the REST API and pages on 127.0.0.1:PORT (default 8080) "
        "and print an analyst and an auditor key, until Ctrl-C",
    )
    demo.set_defaults(handler=_demo)
