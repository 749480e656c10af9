"""Benchmarks: speed and memory figures, run by `make bench` (never by timed tests)."""
