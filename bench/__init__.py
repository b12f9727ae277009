"""Benchmarks: figures for people and one JSON line each; never timed tests (see README, Benchmarks)."""
