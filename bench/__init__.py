"""Benchmarks: `python -m bench.NAME` from the repository root prints a table."""
