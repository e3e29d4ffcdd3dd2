"""The gRPC wire layer: generated code lives in ``cleanroom.v1``; this package
holds what sits between it and the domain (codegen, TLS credentials, status mapping)."""
