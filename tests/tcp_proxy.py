"""A TCP proxy on loopback for tests that need a network between a client and the private
Redis: each new connection goes to the current ``upstream`` port (change it to play a
failover behind one address), and ``drop_next_reply`` cuts the client's socket instead of
passing the next reply back (a reply lost mid-call).

For the chaos soak (tests/soak) it can also make the network bad for a while: ``latency``
(seconds added before every chunk is passed on, both ways), ``drop_rate`` (the chance that a
reply chunk cuts its connection instead of arriving) and ``cut_all()`` (every open connection
cut at once, as a restarted load balancer would). A connection whose upstream refuses (Redis
restarting) is closed at once, and the proxy keeps accepting."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time


class TcpProxy:
    def __init__(self, upstream: int, *, seed: int | None = None) -> None:
        self.upstream = upstream
        self.drop_next_reply = threading.Event()
        self.dropped = threading.Event()
        self.latency = 0.0
        self.drop_rate = 0.0
        self.drops = 0  # connections cut by drop_rate or drop_next_reply
        self.refused = 0  # client connections closed because the upstream refused
        self._random = random.Random(seed)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def _sockets(self) -> list[socket.socket]:
        with self._lock:
            return [s for pair in self._pairs for s in pair]

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                upstream.settimeout(None)
            except OSError:  # the server is down: the client sees a closed connection
                self.refused += 1
                client.close()
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._pump, args=(client, upstream, False, pair),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True, pair),
                             daemon=True).start()

    def _cut_reply(self) -> bool:
        if self.drop_next_reply.is_set():
            self.drop_next_reply.clear()
            return True
        rate = self.drop_rate
        return rate > 0 and self._random.random() < rate

    def _pump(self, src: socket.socket, dst: socket.socket, replies: bool,
              pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while data := src.recv(65536):
                if self.latency > 0:
                    time.sleep(self.latency)
                if replies and self._cut_reply():
                    self.drops += 1
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
            if not replies:  # the client-side pump ends last: it forgets and closes the pair
                with self._lock:
                    self._pairs.discard(pair)
                for s in pair:
                    s.close()

    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut_all(self) -> int:
        """Cut every open connection (both ends see a reset); returns how many."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
        return len(pairs)

    def close(self) -> None:
        self.listener.close()
        for s in self._sockets:
            s.close()
