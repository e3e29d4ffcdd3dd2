"""Reading the coordinator's audit log out of its store: signed exports and disclosure reports."""
