"""Benchmark suite: `python -m bench` (see BENCHMARKS.md)."""
