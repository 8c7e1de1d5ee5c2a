"""Integration tests for src/imap (see tests/integration/run.py)."""
