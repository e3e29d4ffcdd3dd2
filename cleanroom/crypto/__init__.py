"""The shared crypto corner: sealed fields, Ed25519 signatures, secret key files."""
