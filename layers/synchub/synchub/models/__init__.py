"""Pydantic v2 models of the HTTP contract."""
