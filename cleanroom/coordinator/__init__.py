"""The coordinator: holds only blinded tokens, joins them, releases what terms grant.

Layers, top to bottom (import-linter's "Coordinator layers" contract keeps them):

- ``cli``, ``server``: the command line and the process (gRPC + optional HTTP).
- ``grpc`` / ``web``: the adapters (generated types stay in ``grpc``); ``audit``: exports and reports.
- ``core``: the ``Coordinator`` facade the adapters call.
- ``attribution_jobs``, ``releases``: what is released, signed, stored and audited.
- ``uploads``, ``chunks``: receiving points; ``completion``: closing a run once all four uploads are in.
- ``runs`` (status, peer points, retention), ``sealing`` (sealed fields for account-level reveal).
- ``agreements`` (parties, approval, cached terms), ``limits``, ``linkage`` (the attribution join, run in DuckDB),
  ``noise`` (differential-privacy draws), ``release_policy`` (pure: what a release may disclose).
- ``overlap`` (the token join), ``datadir``; ``store`` (every SQL statement), ``pki``.
"""
