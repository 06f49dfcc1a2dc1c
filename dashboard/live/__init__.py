"""Live updates over a websocket: stream readers, coalescing, fragments and the consumer.

``feeds`` reads each queue's BullMQ event stream (one task per queue per process),
``changes`` folds events into what a page must refresh, ``ticker`` flushes sockets at most
``LIVE_UPDATES_PER_SECOND`` times a second, ``sessions`` renders one socket's fragments,
``services`` is the only module here that calls queuecore, ``consumers`` is the thin
Channels consumer and ``notify`` carries notices between processes through the channel layer.
"""
