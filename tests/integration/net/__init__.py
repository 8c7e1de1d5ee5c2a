"""Integration tests for src/net (see tests/integration/run.py)."""
