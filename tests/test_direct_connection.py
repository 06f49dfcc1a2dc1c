"""The sync Queue's held connection for script calls (transport.direct.DirectConnection): a dropped
connection raises a clear error and never adds twice; a stale one is replaced before sending;
threads that find it busy use the pool; the packed command is the one redis-py would send."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from queuecore import Queue, RedisConnectionError
from queuecore.commands.op import script
from queuecore.transport.calls import ScriptPacker
from tests.redisproc import RedisProcess
from tests.tcp_proxy import TcpProxy

K = "bull:direct:"


@pytest.fixture
def proxy(redis_url: str, redis_server: RedisProcess) -> Iterator[TcpProxy]:
    port = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"]
    p = TcpProxy(int(port))
    yield p
    p.close()


def test_reply_lost_mid_add_raises_a_clear_error_and_adds_once(
        proxy: TcpProxy, r: redis.Redis) -> None:
    q = Queue("direct", f"redis://127.0.0.1:{proxy.port}/0")
    try:
        assert q.add("a", {"n": 1}).id == "1"
        proxy.drop_next_reply.set()
        with pytest.raises(RedisConnectionError, match="may or may not have run"):
            q.add("b", {"n": 2})
        assert proxy.dropped.is_set()
        # Redis ran the add it received, once; nothing was sent again behind our back.
        assert r.lrange(K + "wait", 0, -1) == ["2", "1"]
        assert r.get(K + "id") == "2"
        # The next add reconnects and goes on.
        assert q.add("c", {"n": 3}).id == "3"
        assert r.llen(K + "wait") == 3
    finally:
        q.close()


def test_stale_held_connection_is_replaced_before_sending(redis_url: str,
                                                          r: redis.Redis) -> None:
    q = Queue("direct", redis_url)
    try:
        q.add("a", {})
        killed = r.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        assert q.add("b", {}).id == "2"  # no error: nothing had been sent on the dead socket
        assert r.lrange(K + "wait", 0, -1) == ["2", "1"]
    finally:
        q.close()


def test_noscript_on_the_held_connection_loads_and_sends_once(redis_url: str,
                                                              r: redis.Redis) -> None:
    q = Queue("direct", redis_url)
    try:
        q.add("a", {})
        r.script_flush()
        assert q.add("b", {}).id == "2"
        assert r.llen(K + "wait") == 2
    finally:
        q.close()


def test_threads_share_the_queue_busy_connection_falls_back_to_the_pool(
        redis_url: str, r: redis.Redis) -> None:
    q = Queue("direct", redis_url)
    errors: list[BaseException] = []

    def adder(t: int) -> None:
        try:
            for i in range(150):
                q.add("t", {"t": t, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=adder, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.close()
    assert not errors
    ids = r.lrange(K + "wait", 0, -1)
    assert len(ids) == len(set(ids)) == 600


def test_closed_queue_does_not_keep_the_connection(redis_url: str, r: redis.Redis) -> None:
    q = Queue("direct", redis_url)
    q.add("a", {})
    assert [c["cmd"] for c in r.client_list()].count("evalsha") == 1
    q.close()
    assert [c["cmd"] for c in r.client_list()].count("evalsha") == 0


@pytest.mark.parametrize("args", [
    ("base:", "", "name", 1700000000000, '{"a":"é"}', "{}", 0, 2.5, "0", "", 0, "", "", "",
     "0"),
    (),
    ("x",),
])
def test_packed_command_is_what_redis_py_sends(args: tuple[Any, ...]) -> None:
    call = script("add_job", ["k1", "k2:é"], args)
    packer = ScriptPacker()
    expected = b"".join(redis.Connection().pack_command(
        "EVALSHA", call.script.sha, 2, "k1", "k2:é", *args))
    assert packer.pack(call) == expected
    assert packer.pack(call) == expected  # from the kept head
