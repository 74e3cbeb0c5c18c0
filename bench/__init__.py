"""Benchmarks (`make bench` = `python -m bench`): page rerun times and search latency. Not tests: they report."""
