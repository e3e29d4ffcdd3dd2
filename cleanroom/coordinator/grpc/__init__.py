"""The coordinator's gRPC adapter: thin servicers over the Coordinator facade."""
