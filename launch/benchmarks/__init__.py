"""Benchmarks behind `python launch/bench.py NAME`: each module's `run()` returns the figures as a dict."""
