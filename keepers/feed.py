"""The keeper's live feed: task events as JSON over a WebSocket on 127.0.0.1.

Events (`keepers.events`: trainer connected, round started, update accepted/rejected with reason,
round attested with tx hash, metrics and timing, trainer slashed, task finalized) are numbered in
publish order. A subscriber first gets the backlog, then live events, so one that connects
mid-round still sees the whole round in order. `LiveFeed` publishes (in the keeper's ServerApp);
`FeedFollower` subscribes (the keeper's command line, the demo, the benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.table import Table
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.sync.client import connect

from keepers.events import (
    FeedEvent,
    Published,
    RoundAttested,
    RoundStarted,
    TaskFinalized,
    UpdateAccepted,
    UpdateRejected,
)

WEB_APP_ORIGINS = ("http://127.0.0.1:3000", "http://localhost:3000")  # where `fedchain web` serves


class LiveFeed:
    """Thread-safe publisher: services call `publish` from any thread.

    Programs (no Origin header) may subscribe, and so may pages from `origins` (the web app); a
    page from any other site is refused, so a site a keeper operator happens to visit cannot read
    the feed through the operator's browser."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, backlog: int = 10_000, origins: tuple[str, ...] = WEB_APP_ORIGINS
    ) -> None:
        self.host = host
        self.port = port
        self.origins = origins
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
        allowed: list[str | None] = [None, *self.origins]  # None: no Origin header, i.e. not a browser page
        self._server = await serve(self._handle, self.host, self.port, origins=allowed)  # type: ignore[arg-type]
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
        except Exception:  # a subscriber going away is normal
            pass
        finally:
            with self._lock:
                self._subscribers.discard(queue)

    def publish(self, event: FeedEvent) -> Published:
        with self._lock:
            self._sequence += 1
            published = Published(self._sequence, round(time.time(), 3), event)
            message = json.dumps(_finite(published.to_json()), default=str, allow_nan=False)
            self._history.append(message)
            del self._history[: -self._backlog_limit]
            subscribers = list(self._subscribers)
        if self._loop is not None:
            for queue in subscribers:
                self._loop.call_soon_threadsafe(queue.put_nowait, message)
        return published

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


@dataclass
class RoundRow:
    """One round of one task as a follower saw it."""

    accepted: int = 0
    rejected: list[str] = field(default_factory=list)  # reasons, in arrival order
    started: float | None = None  # when its first train message went out
    attested: RoundAttested | None = None
    seconds: float | None = None  # from start to the attestation's broadcast


class FeedFollower(threading.Thread):
    """Follows a keeper's feed across runs, collecting one task's events (or every task's, when
    `task_id` is None) into round rows; `on_event` sees each new event as it arrives."""

    def __init__(
        self, port: int, task_id: int | None = None, on_event: Callable[[Published], None] | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.task_id = task_id
        self.on_event = on_event
        self._seen: set[tuple[int, str, float]] = set()
        self.events: list[Published] = []
        self.rounds: dict[tuple[int, int], RoundRow] = {}  # (task, round) -> row
        self.finished = threading.Event()  # the followed task was finalized

    def run(self) -> None:
        while not self.finished.is_set():
            try:
                with connect(f"ws://127.0.0.1:{self.port}", open_timeout=2) as feed:
                    for raw in feed:
                        published = Published.from_json(json.loads(raw))
                        if published is not None:
                            self._take(published)
                        if self.finished.is_set():
                            return
            except Exception:  # the feed closes when a run ends; reconnect for the next
                time.sleep(0.3)

    def _take(self, published: Published) -> None:
        event = published.event
        key = (published.seq, event.KIND, published.time)
        if key in self._seen or (self.task_id is not None and event.task_id != self.task_id):
            return  # a reconnect replays the backlog; a restarted run starts its own sequence
        self._seen.add(key)
        self.events.append(published)
        number = getattr(event, "round", None)
        if number is not None:
            row = self.rounds.setdefault((event.task_id, number), RoundRow())
            if isinstance(event, RoundStarted) and row.started is None:
                row.started = published.time
            elif isinstance(event, UpdateAccepted):
                row.accepted += 1
            elif isinstance(event, UpdateRejected):
                row.rejected.append(event.reason)
            elif isinstance(event, RoundAttested):
                row.attested = event
                row.seconds = published.time - row.started if row.started is not None else None
        if self.on_event is not None:
            self.on_event(published)
        if isinstance(event, TaskFinalized) and self.task_id is not None:
            self.finished.set()

    def table(self, rounds: int) -> Table:
        """The followed task's rounds, pending ones included."""
        table = Table(title="training rounds (live)", expand=False)
        metric = next((row.attested.metric for row in self.rounds.values() if row.attested), "metric")
        columns = (
            "round",
            "accepted",
            "rejected (reason)",
            f"{metric} (chain)",
            f"trainers' {metric}",
            "loss",
            "round s",
        )
        for column in (*columns, "attestation tx"):
            table.add_column(column)
        for number in range(1, rounds + 1):
            row = self.rounds.get((self.task_id, number)) if self.task_id is not None else None
            if row is None:
                table.add_row(str(number), "", "", "", "", "", "", "[dim]pending[/]")
                continue
            attested = row.attested
            reasons = "; ".join(escape(short_addresses(r)[:60]) for r in row.rejected) or "-"  # trainers' text
            table.add_row(
                str(number),
                str(row.accepted),
                reasons,
                _number(attested.value if attested else None),
                _number(attested.federated_value if attested else None),
                _number(attested.loss if attested else None),
                f"{row.seconds:.1f}" if row.seconds is not None else "…",
                attested.tx_hash[:16] if attested else "…",
            )
        return table


def round_summary(event: RoundAttested, row: RoundRow) -> str:
    """One line for an attested round: outcome, the task's metric, transaction and where its time went
    (the training phase along its last reply, federated evaluation, the keeper's own work, and the
    wait for the attestation's block)."""
    parts = [
        f"task {event.task_id} round {event.round} attested",
        f"{event.accepted} accepted, {event.rejected} rejected",
        f"{event.metric} {event.value:.4g}",
        f"tx {event.tx_hash[:16]}",
    ]
    if row.seconds is not None:
        timing = event.timing
        reply = timing.last_reply
        phases = [
            ("delivery", reply.delivery_s if reply else 0.0),
            ("training", reply.local_train_s if reply else 0.0),
            ("signing", reply.sign_s if reply else 0.0),
            ("return", reply.return_s if reply else 0.0),
        ]
        if timing.evaluate_wait_s >= 0.005:  # federated evaluation is optional
            phases.append(("evaluation", timing.evaluate_wait_s))
        phases += [("keeper", timing.keeper_s), ("block", timing.inclusion_s)]
        parts.append(f"{row.seconds:.1f} s (" + ", ".join(f"{n} {v:.2f}" for n, v in phases) + ")")
    return "; ".join(parts)


def short_addresses(text: str) -> str:
    """Addresses shortened to wasm1abcd…wxyz, so a rejection reason fits a table cell."""
    return re.sub(r"\b(wasm1[0-9a-z]{4})[0-9a-z]{30,}([0-9a-z]{4})\b", r"\1…\2", text)


def _number(value: float | None) -> str:
    return "…" if value is None else f"{value:.3f}"


def _finite(value: Any) -> Any:
    """The JSON value with every NaN or infinity as null: browsers' JSON.parse refuses them, and a
    single bad figure must not make an event (or the whole feed) unreadable."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
