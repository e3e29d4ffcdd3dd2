"""Generated gRPC/protobuf code (``make proto``); do not edit."""
