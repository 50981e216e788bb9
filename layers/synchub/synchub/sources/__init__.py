"""Data sources, their interfaces and their write-only secrets."""
