"""Benchmark: this service against a seed-style Flask baseline and the in-process pipeline limit."""
