"""One module per ``cleanroom-client`` subcommand; each exposes ``register(subparsers)``.

A command's handler takes the parsed arguments and returns an exit status.
"""
