"""Integration tests for src/lmtp (see tests/integration/run.py)."""
