"""Connection forms beyond a plain URL: the redis+sentinel:// URL (parsed, no Redis needed),
a slave_for() client refused, and the WAIT options on the private redis-server (which has no
replica, so WAIT never confirms: the call says so, and the write itself did run)."""

from __future__ import annotations

import pickle

import pytest
import redis
import redis.sentinel as ssentinel

from queuecore import FlowProducer, Queue, RedisTimeoutError
from queuecore.transport.connection import connection_kwargs, describe, redact, sync_client
from queuecore.transport.sentinel import SentinelSpec, parse_url
from queuecore.worker.process_pool import portable_connection


def test_sentinel_url_gives_sentinels_service_db_and_both_passwords() -> None:
    kw = parse_url("redis+sentinel://app:s%40cret@10.0.0.1:26380,[::1],sent3/my%20svc/2"
                   "?sentinel_password=sp&socket_timeout=3&min_other_sentinels=1"
                   "&wait_replicas=1&wait_timeout_ms=200")
    spec = kw.pop("sentinel")
    assert isinstance(spec, SentinelSpec)
    assert spec.sentinels == (("10.0.0.1", 26380), ("::1", 26379), ("sent3", 26379))
    assert spec.service_name == "my svc"
    assert spec.min_other_sentinels == 1
    assert spec.sentinel_kwargs["password"] == "sp"
    assert spec.sentinel_kwargs["ssl"] is False
    assert kw == {"ssl": False, "username": "app", "password": "s@cret", "db": 2,
                  "socket_timeout": 3.0, "wait_replicas": 1, "wait_timeout_ms": 200}


def test_tls_sentinel_url_uses_tls_for_the_sentinels_too_unless_told() -> None:
    kw = parse_url("rediss+sentinel://h:1/svc?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required")
    spec = kw["sentinel"]
    assert kw["ssl"] is True and kw["ssl_ca_certs"] == "/ca.pem"
    assert spec.sentinel_kwargs["ssl"] is True
    assert spec.sentinel_kwargs["ssl_ca_certs"] == "/ca.pem"
    plain = parse_url("rediss+sentinel://h:1/svc?sentinel_ssl=false")["sentinel"]
    assert plain.sentinel_kwargs["ssl"] is False


@pytest.mark.parametrize(("url", "message"), [
    ("redis+sentinel://h:1", "service name"),
    ("redis+sentinel://h:1/", "service name"),
    ("redis+sentinel://h:1/svc/0/extra", "service name"),
    ("redis+sentinel://h:x/svc", "bad port"),
    ("redis+sentinel://h:1,,h:2/svc", "empty"),
    ("redis+sentinel://h:1/svc/zero", "must be a number"),
    ("redis+sentinel://h:1/svc?decode_responses=false", "unknown option 'decode_responses'"),
    ("redis+sentinel://h:1/svc?ssl_ca_certs=/ca.pem", r"need rediss\+sentinel"),
    ("redis+sentinel://h:1/svc/1?db=2", "two different databases"),
    ("redis+sentinel://h:1/svc?socket_timeout=soon", "bad value for 'socket_timeout'"),
    ("redis+sentinel://h:1/svc?wait_replicas=0", "wait_replicas must be positive"),
    ("redis+sentinel://h:1/svc?wait_timeout_ms=10", "without wait_replicas"),
])
def test_bad_sentinel_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sync_client(url)


def test_sentinel_urls_are_described_and_redacted_without_passwords() -> None:
    url = "redis+sentinel://:pw@h1:1,h2:2/svc/3?sentinel_password=spw"
    assert describe(url) == "sentinel h1:1,h2:2/svc/3"
    assert redact(f"failed: {url}") == \
        "failed: redis+sentinel://:***@h1:1,h2:2/svc/3?sentinel_password=***"
    assert "pw" not in redact("rediss+sentinel://u:pw@h/svc?password=pw")


def test_a_slave_for_client_is_refused() -> None:
    sentinel = ssentinel.Sentinel([("127.0.0.1", 1)])
    replica = sentinel.slave_for("svc")
    try:
        with pytest.raises(ValueError, match="master_for"):
            connection_kwargs(replica)
    finally:
        replica.close()
        sentinel.close()


def test_wait_without_a_replica_raises_after_the_write_ran(redis_url: str,
                                                            r: redis.Redis) -> None:
    with Queue("w", f"{redis_url}?wait_replicas=1&wait_timeout_ms=50") as queue:
        with pytest.raises(RedisTimeoutError, match="only 0 of 1 replicas"):
            queue.add("a", {}, job_id="j1")
        assert r.exists("bull:w:j1") == 1  # it ran on the master
        r.script_flush()  # NOSCRIPT: loaded, sent again alone, then WAIT again
        with pytest.raises(RedisTimeoutError):
            queue.add("a", {}, job_id="j2")
        assert r.exists("bull:w:j2") == 1
        # Reads wait too (for nothing new: WAIT answers at once with what is confirmed).
        with pytest.raises(RedisTimeoutError):
            queue.get_job_counts()


def test_wait_after_a_transaction(redis_url: str, r: redis.Redis) -> None:
    producer = FlowProducer({"url": redis_url, "wait_replicas": 1, "wait_timeout_ms": 50})
    try:
        with pytest.raises(RedisTimeoutError):
            producer.add({"name": "parent", "queue_name": "wf",
                          "children": [{"name": "child", "queue_name": "wf"}]})
    finally:
        producer.close()
    assert r.llen("bull:wf:wait") == 1  # the child, written by MULTI/EXEC
    assert r.zcard("bull:wf:waiting-children") == 1


def test_a_master_for_client_reaches_child_processes_with_its_sentinels() -> None:
    sentinel = ssentinel.Sentinel([("127.0.0.1", 1), ("127.0.0.2", 2)],
                                  sentinel_kwargs={"password": "sp"})
    master = sentinel.master_for("svc", password="mp", db=3)
    try:
        portable = portable_connection(master)
    finally:
        master.close()
        sentinel.close()
    assert isinstance(portable, dict)
    spec = pickle.loads(pickle.dumps(portable))["sentinel"]
    assert spec.sentinels == (("127.0.0.1", 1), ("127.0.0.2", 2))
    assert spec.service_name == "svc" and spec.sentinel_kwargs["password"] == "sp"
    assert describe(portable) == "sentinel 127.0.0.1:1,127.0.0.2:2/svc/3"
