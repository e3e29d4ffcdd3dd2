"""What a party sees: its overlap views, revealed co-sell targets."""
