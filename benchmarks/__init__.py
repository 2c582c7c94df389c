"""Benchmarks run by hand; each prints its figures. Not part of the test suite."""
