"""Integration tests for src/cli (see tests/integration/run.py)."""
