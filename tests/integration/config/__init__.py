"""Integration tests for src/config (see tests/integration/run.py)."""
