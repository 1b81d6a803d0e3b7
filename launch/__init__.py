"""Entry points (scripts) and the benchmarks they run; not part of the installed library."""
