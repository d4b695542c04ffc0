"""The test suite, importable as a package so tests and benchmarks share ``tests.support``."""
