"""A reusable Django app that shows BullMQ 6 format queues and acts on them through queuecore.

Add ``"dashboard"`` to ``INSTALLED_APPS`` and ``path("queues/", include("dashboard.urls"))`` to
the URLconf. Settings live in one dict, ``QUEUE_DASHBOARD`` (see ``dashboard.conf``).
"""
