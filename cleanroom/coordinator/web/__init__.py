"""The coordinator's REST API (/v1) and web pages, served beside gRPC from the same store.

It serves only releases the coordinator already made: nothing here creates a
release or spends a privacy budget.

- ``app``: the FastAPI factory and the HTTP thread; ``errors``: how refusals
  are answered (and audited); ``context``: what routes and pages share.
- ``models``: the API's request and response bodies (its OpenAPI schema);
  ``refusals``: refused requests written to the audit chain; ``cursors``:
  page cursors and query-string times.
- ``auth``: API keys (stored as SHA-256 hashes), browser sessions;
  ``roles``: authentication and roles as FastAPI dependencies; ``access``:
  which party may read which agreement and whose releases.
- Reads, shared by the API and the pages (all SQL is in
  ``cleanroom.coordinator.store.reads``): ``agreements``, ``overlap``,
  ``ranking``, ``attribution``, ``audit_trail``; ``charts``: the pages' SVG
  charts; ``redaction``: what the other party's auditor may see of a
  disclosure report.
- ``routes/``: one /v1 router per resource (OpenAPI at /v1/openapi.json);
  ``pages/``: the HTML pages; ``metrics``: Prometheus.
"""
