"""Benchmarks of issue 5: figures, not assertions. Each module runs with ``python -m benchmarks.<name>``."""
