"""The audit log's format: the hash chain and its offline verification (pure; anyone holding an export can verify it)."""
