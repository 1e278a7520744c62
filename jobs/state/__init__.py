"""What nightcrew remembers between runs (one SQLite file by default)."""
