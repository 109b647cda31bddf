"""The keeper's WebSocket live feed: order, backlog, and live delivery to several subscribers."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from keepers.feed import LiveFeed


def test_feed_delivers_backlog_then_live_events_in_order() -> None:
    feed = LiveFeed()
    url = feed.start()
    try:
        assert url.startswith("ws://127.0.0.1:")
        feed.publish("trainer_connected", task_id=1, node_id=11)
        feed.publish("update_accepted", task_id=1, round=1, trainer="wasm1a")
        with connect(url) as early, connect(url) as late_joiner:
            feed.publish("update_rejected", task_id=1, round=1, reason="norm 9.1 exceeds bound 5.0")
            feed.publish("round_attested", task_id=1, round=1, tx_hash="ABC")
            for subscriber in (early, late_joiner):
                events = [json.loads(subscriber.recv(timeout=5)) for _ in range(4)]
                assert [e["event"] for e in events] == [
                    "trainer_connected",
                    "update_accepted",
                    "update_rejected",
                    "round_attested",
                ]
                assert [e["seq"] for e in events] == [1, 2, 3, 4]
                assert events[2]["reason"].startswith("norm")
    finally:
        feed.stop()
