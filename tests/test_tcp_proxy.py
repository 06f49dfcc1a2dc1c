"""The test proxy's chaos knobs (tests/tcp_proxy.py), used by the soak: latency, dropped
replies, cutting every connection, and an upstream that refuses."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from tests.redisproc import RedisProcess, free_port
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def proxied(redis_url: str, redis_server: RedisProcess) -> Iterator[TcpProxy]:
    proxy = TcpProxy(redis_server.port, seed=1)
    yield proxy
    proxy.close()


def call(sock: socket.socket, command: bytes) -> bytes:
    """Send one inline command; the reply's bytes, b"" when the connection was cut."""
    sock.sendall(command + b"\r\n")
    try:
        return sock.recv(100)
    except ConnectionResetError:
        return b""


def test_latency_delays_the_command_and_its_reply(proxied: TcpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=10) as sock:
        assert call(sock, b"PING") == b"+PONG\r\n"
        proxied.latency = 0.2
        t0 = time.monotonic()
        assert call(sock, b"PING") == b"+PONG\r\n"
        assert time.monotonic() - t0 >= 0.4


def test_drop_rate_cuts_the_connection_instead_of_the_reply(proxied: TcpProxy,
                                                            r: redis.Redis) -> None:
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=10) as sock:
        assert call(sock, b"PING") == b"+PONG\r\n"
        proxied.drop_rate = 1.0
        assert call(sock, b"INCR n") == b""
    assert proxied.drops == 1
    assert r.get("n") == "1"  # the command ran: only its reply was lost


def test_cut_all_cuts_open_connections_and_new_ones_work(proxied: TcpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=10) as sock:
        assert call(sock, b"PING") == b"+PONG\r\n"
        assert proxied.cut_all() == 1
        assert call(sock, b"PING") == b""
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=10) as sock:
        assert call(sock, b"PING") == b"+PONG\r\n"


def test_a_refusing_upstream_closes_the_client_and_the_proxy_goes_on() -> None:
    proxy = TcpProxy(free_port())  # nothing listens there yet
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            assert call(sock, b"PING") == b""
        assert proxy.refused == 1
        server = RedisProcess(port=proxy.upstream).start()
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
                assert call(sock, b"PING") == b"+PONG\r\n"
        finally:
            server.close()
    finally:
        proxy.close()
