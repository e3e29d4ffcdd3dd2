"""The raw-data zone: reading CRM exports and turning rows into match keys. Nothing here talks to the network."""
