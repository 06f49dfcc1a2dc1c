"""Benchmark harness: queuecore against Node bullmq, Python bullmq, RQ and arq."""
