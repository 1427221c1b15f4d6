"""Benchmarks: each stage next to its baseline, in the same process. Run with ``make bench``."""
