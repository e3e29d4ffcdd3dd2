"""The coordinator: holds only blinded tokens, joins them, releases what terms grant."""
