"""Issue 8 benchmark harness: queuecore against Node bullmq, Python bullmq, RQ and arq."""
