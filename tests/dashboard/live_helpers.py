"""Helpers of the live tests: authenticated websocket communicators and message collection.

``receive_from`` with a timeout cancels the application when nothing comes, so these poll
the communicator's output queue instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.routing import websocket_application
from tests.waiting import TIMEOUT

LIVE = "/ws/queue-dashboard/"


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(
    path: str, session: str | None = None, origin: str = "http://testserver"
) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if session:
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(websocket_application(), LIVE + path, headers=headers)


def _drain(comm: WebsocketCommunicator, into: list[dict[str, Any]]) -> None:
    while not comm.output_queue.empty():
        into.append(comm.output_queue.get_nowait())


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m["type"] == "websocket.send"]


async def collect(comm: WebsocketCommunicator, seconds: float) -> list[dict[str, Any]]:
    """Every message sent within ``seconds``."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await asyncio.sleep(0.01)
        _drain(comm, out)
    _drain(comm, out)
    return out


async def wait_for(
    comm: WebsocketCommunicator, found: Callable[[str], bool], timeout: float = TIMEOUT
) -> list[str]:
    """Messages up to the first text for which ``found`` is true (fails after ``timeout``)."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        _drain(comm, out)
        got = texts(out)
        if any(found(t) for t in got):
            return got
        closed = [m for m in out if m["type"] == "websocket.close"]
        if closed:
            raise AssertionError(f"socket closed: {closed}")
        await asyncio.sleep(0.01)
    raise AssertionError(f"nothing matched within {timeout}s; got {texts(out)}")


async def wait_closed(comm: WebsocketCommunicator, timeout: float = TIMEOUT) -> int:
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        _drain(comm, out)
        for m in out:
            if m["type"] == "websocket.close":
                return int(m.get("code", 1000))
        await asyncio.sleep(0.01)
    raise AssertionError(f"not closed within {timeout}s; got {out}")
