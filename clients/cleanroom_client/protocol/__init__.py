"""What leaves the machine: blinding, chunking, uploading, re-blinding, records, sealing, keys and receipts."""
