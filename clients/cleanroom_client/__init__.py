"""The participant client: the only code in Cleanroom that reads raw account data.

It reads CRM exports, normalises account keys, hashes and blinds them with the
party's own secret, and talks to the coordinator over mTLS gRPC. Nothing
under ``cleanroom/`` (the coordinator side) may import this package.
"""
