"""The keeper's live feed: task events as JSON over a WebSocket on 127.0.0.1.

Events (trainer connected, update accepted/rejected with reason, round attested with tx hash and
metrics, task finalized) are numbered in publish order. A subscriber first gets the backlog, then
live events, so one that connects mid-round still sees the whole round in order.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve


class LiveFeed:
    """Thread-safe publisher: services call `publish` from any thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, backlog: int = 10_000) -> None:
        self.host = host
        self.port = port
        self._backlog_limit = backlog
        self._history: list[str] = []
        self._subscribers: set[asyncio.Queue[str | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._sequence = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> str:
        """Serve in a background thread; returns the ws:// URL once it is listening."""
        ready = threading.Event()

        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self._open())
            except OSError as error:
                failure.append(error)
                ready.set()
                loop.close()
                return
            self._loop = loop
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="live-feed", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(
                f"live feed did not start on {self.host}:{self.port}: {failure[0] if failure else 'timeout'}"
            )
        return self.url

    async def _open(self) -> None:
        self._server = await serve(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port

    async def _handle(self, connection: ServerConnection) -> None:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        with self._lock:
            backlog = list(self._history)
            self._subscribers.add(queue)
        try:
            for message in backlog:
                await connection.send(message)
            while (message := await queue.get()) is not None:
                await connection.send(message)
        except Exception:  # noqa: BLE001 - a subscriber going away is normal
            pass
        finally:
            with self._lock:
                self._subscribers.discard(queue)

    def publish(self, kind: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._sequence += 1
            event = {"seq": self._sequence, "time": round(time.time(), 3), "event": kind, **fields}
            message = json.dumps(event, default=str)
            self._history.append(message)
            del self._history[: -self._backlog_limit]
            subscribers = list(self._subscribers)
        if self._loop is not None:
            for queue in subscribers:
                self._loop.call_soon_threadsafe(queue.put_nowait, message)
        return event

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def close() -> None:
            with self._lock:
                for queue in self._subscribers:
                    queue.put_nowait(None)  # lets each handler return, so the server can close
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = None
