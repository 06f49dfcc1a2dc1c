"""A port that does not speak Redis: a different service, or a socket that connected to
itself (a client retrying a loopback port in the ephemeral range that nobody listens on may
be handed that very port, and then reads its own commands back). Queues raise a clear
ConnectionError; a worker reports the trouble and keeps trying without dying."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest
import redis

from queuecore import AsyncJob, AsyncQueue, Queue, RedisConnectionError, Worker
from queuecore.transport import handshake
from tests.worker_utils import running, wait_until

HTTP_REPLY = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class NotRedis:
    """A loopback server that echoes what it receives (a self-connected socket) or answers
    like an HTTP server and hangs up."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            try:
                while data := sock.recv(65536):
                    if self.mode == "http":
                        sock.sendall(HTTP_REPLY)
                        return
                    sock.sendall(data)
            except OSError:
                return

    def url(self, password: bool) -> str:
        auth = "default:pw@" if password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"


@pytest.fixture(params=["echo", "http"])
def not_redis(request: pytest.FixtureRequest) -> Iterator[NotRedis]:
    server = NotRedis(request.param)
    yield server
    server.listener.close()


@pytest.mark.parametrize("password", [True, False], ids=["password", "no-password"])
async def test_async_queue_raises_a_connection_error(not_redis: NotRedis, password: bool):
    queue = AsyncQueue("q", not_redis.url(password))
    try:
        with pytest.raises(RedisConnectionError):
            await queue.add("j", {"a": 1})
    finally:
        await queue.close()


@pytest.mark.parametrize("password", [True, False], ids=["password", "no-password"])
def test_sync_queue_raises_a_connection_error(not_redis: NotRedis, password: bool):
    queue = Queue("q", not_redis.url(password))
    try:
        with pytest.raises(RedisConnectionError):
            queue.add("j", {"a": 1})
    finally:
        queue.close()


def test_a_socket_connected_to_itself_is_refused_before_anything_is_sent():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.connect(("127.0.0.1", port))  # TCP simultaneous open with itself, as Linux allows
    conn = handshake.Connection(host="127.0.0.1", port=port)
    with sock, pytest.raises(redis.ConnectionError, match="own socket"):
        handshake._refuse_self(conn, sock)
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()) as client:
        handshake._refuse_self(conn, client)  # an ordinary connection passes


async def test_worker_reports_and_keeps_trying(not_redis: NotRedis, caplog):
    caplog.set_level(logging.WARNING, "queuecore.worker.worker")
    errors: list[BaseException] = []

    async def process(job: AsyncJob) -> None:
        return None

    worker = Worker("q", process, connection=not_redis.url(True))
    worker.on("error", errors.append)
    async with running(worker) as w:
        await wait_until(lambda: errors and not_redis.connections >= 2)  # it keeps trying
        assert w.running
    assert errors, "the worker said nothing about a port that is not Redis"
    assert all(isinstance(e, RedisConnectionError) for e in errors), errors
    assert not_redis.connections >= 2, "the worker stopped trying"
    assert any("unreachable" in r.getMessage() for r in caplog.records)
