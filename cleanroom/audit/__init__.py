"""The audit trail: exporting the signed hash chain, verifying it offline, disclosure reports."""
