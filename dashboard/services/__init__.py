"""The read side: calls queuecore and returns small typed view models for templates.

Views never talk to Redis; they call these modules, one per page (``overview``,
``queue_page``, ``job_page``, ``workers``, ``schedulers``, ``redis_info``), with the shared
parts in ``common`` (states, read errors), ``job_rows`` (a job as a table row),
``discovery`` (queue names of a connection) and ``summary`` (one queue's counts and rates).
Every list costs O(page size): counts come from LLEN/ZCARD inside ``get_job_counts`` and
pages from ranged reads.
"""
