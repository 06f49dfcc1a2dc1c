"""A TCP proxy on loopback for tests that need a network between a client and the private
Redis: each new connection goes to the current ``upstream`` port (change it to play a
failover behind one address), and ``drop_next_reply`` cuts the client's socket instead of
passing the next reply back (a reply lost mid-call)."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.drop_next_reply = threading.Event()
        self.dropped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, replies: bool) -> None:
        try:
            while data := src.recv(65536):
                if replies and self.drop_next_reply.is_set():
                    self.drop_next_reply.clear()
                    self.dropped.set()  # before the cut: the client may see it at once
                    dst.shutdown(socket.SHUT_RDWR)
                    dst.close()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:  # one side closed: close the other, as a real network path would
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for s in self._sockets:
            s.close()
