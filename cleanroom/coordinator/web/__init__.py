"""The coordinator's REST API (/v1) and web pages, served beside gRPC from the same store.

- ``auth``: API keys (stored as SHA-256 hashes), roles, browser sessions.
- ``service``: what each role may read, shared by the API and the pages, so a
  page shows exactly the numbers the API returns. It serves only releases the
  coordinator already made: nothing here creates a release or spends a
  privacy budget.
- ``api``: the /v1 routes (OpenAPI at /v1/openapi.json); ``pages``: HTML.
- ``metrics``: Prometheus; ``app``: the FastAPI factory and the HTTP thread.
"""
