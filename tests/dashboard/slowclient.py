"""A websocket client that does not read (a tiny receive buffer, so the server's buffers
fill first) and a producer of big live updates, for the slow-reader test and benchmark."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
from urllib.parse import urlsplit

from queuecore import Queue
from tests.dashboard.livesite import Daphne
from tests.dashboard.wsclient import WebSocket

LIVE = "/ws/queue-dashboard/"


async def unread_socket(daphne: Daphne, session: str, path: str) -> WebSocket:
    """A websocket whose client keeps a tiny receive buffer and will not read for a while."""
    parts = urlsplit(f"ws://127.0.0.1:{daphne.port}{LIVE}{path}")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {parts.path} HTTP/1.1\r\nHost: 127.0.0.1:{parts.port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Origin: {daphne.url}\r\nCookie: sessionid={session}\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 101 " in head.split(b"\r\n", 1)[0], head
    return WebSocket(reader, writer)


class Producer:
    """Adds jobs with long names in a thread, so that every flush of a 100-row page is big."""

    def __init__(self, url: str, name: str) -> None:
        self.queue = Queue(name, connection=url)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            self.queue.add_bulk([{"name": "n" * 300 + str(n + k), "data": {}}
                                 for k in range(20)])
            n += 20
            self.stop.wait(0.1)

    def close(self) -> int:
        self.stop.set()
        self.thread.join(30)
        waiting = int(self.queue.get_job_counts("waiting")["waiting"])
        self.queue.close()
        return waiting
