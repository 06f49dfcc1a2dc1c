"""The parent's handle on one child process of a ProcessPool: its pipe, waiting for its
messages or its exit, and stopping it (politely, then SIGTERM, then SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from .process_protocol import decode, send


class ChildGone(Exception):
    """The child ended (or its pipe closed) before the message awaited."""


async def _readable(fds: Sequence[int]) -> None:
    """Wait until one of ``fds`` can be read (data, EOF or a process that ended)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    added: list[int] = []
    try:
        for fd in fds:
            loop.add_reader(fd, wake)
            added.append(fd)
        await ready
    finally:
        for fd in added:
            loop.remove_reader(fd)


class ChildHandle:
    """One child process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pid = process.pid
        self.closed = False
        self.exitcode: int | None = None

    def alive(self) -> bool:
        return not self.closed and self.process.is_alive()

    def send(self, message: Mapping[str, Any]) -> None:
        send(self.conn, message)

    async def receive(self) -> dict[str, Any]:
        """The next message; ``ChildGone`` when the child ended first."""
        while True:
            if self.conn.poll():
                try:
                    data = self.conn.recv_bytes()
                except (EOFError, OSError):
                    raise ChildGone from None
                return decode(data)
            if not self.process.is_alive():
                raise ChildGone
            await _readable([self.conn.fileno(), self.process.sentinel])
            if not self.conn.poll() and self.process.is_alive():
                await asyncio.sleep(0.005)  # the pipe closed, the exit is on its way

    async def wait_exit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the process to end; True when it has."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.process.is_alive():
                    await _readable([self.process.sentinel])
                    if self.process.is_alive():
                        await asyncio.sleep(0.005)
        return not self.process.is_alive()

    async def stop(self, grace: float, *, polite: bool = True) -> int | None:
        """Ask the child to leave (when ``polite``), then SIGTERM, then SIGKILL; free it all.
        Returns its exit code."""
        if self.closed:
            return self.exitcode
        if polite and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.send({"op": "stop"})
            await self.wait_exit(grace)
        if self.process.is_alive():
            self.process.terminate()
            if not await self.wait_exit(grace):
                self.process.kill()
                await self.wait_exit(10)
        return self.release()

    def kill_now(self) -> None:
        """For paths that cannot wait (cancellation): SIGKILL and reap."""
        if not self.closed:
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
            self.release()

    def release(self) -> int | None:
        if self.closed:
            return self.exitcode
        self.process.join(0)
        self.exitcode = self.process.exitcode
        self.conn.close()
        if self.exitcode is not None:
            self.process.close()
        self.closed = True
        return self.exitcode


def exit_text(code: int | None) -> str:
    if code is None:
        return "an unknown exit code"
    if code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"


