"""One module per ``cleanroom-client`` subcommand; each exposes ``register(subparsers)``.

A command's handler takes the parsed arguments and returns an exit status.
"""

# The module that registers each command. ``cleanroom-client COMMAND`` imports only that module (importing
# every command's features costs about 0.4 s a process: the homomorphic tables, the deals readers, the
# webhook client...), and the whole set only for help or a command not listed here (a plug-in's).
# tests/unit/test_cli_commands.py checks this table against what registering every module gives.
MODULE_OF = {
    "agent": "agent",
    "agreement": "agreement",
    "alerts": "alerts",
    "attribution": "attribution",
    "enroll": "enroll",
    "renew": "enroll",
    "inspect": "inspect",
    "map": "map",
    "overlap": "overlap",
    "receipts": "receipts",
    "registrations": "registrations",
    "sync": "sync",
    "targets": "targets",
    "ui": "ui",
    "value": "value",
}
