"""Integration tests for src/auth (see tests/integration/run.py)."""
