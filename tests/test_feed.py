"""The keeper's WebSocket live feed: order, backlog, and live delivery to several subscribers."""

from __future__ import annotations

import json
import time

from websockets.sync.client import connect

from keepers.feed import FeedFollower, LiveFeed, round_summary


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


def test_a_follower_builds_round_rows_with_their_time_and_summary() -> None:
    feed = LiveFeed()
    feed.start()
    seen: list[str] = []
    everything = FeedFollower(feed.port, on_event=lambda event: seen.append(event["event"]))
    task_two = FeedFollower(feed.port, task_id=2)
    try:
        feed.publish("round_started", task_id=1, round=3, node_id=11)
        feed.publish("round_started", task_id=2, round=1, node_id=12)
        feed.publish("update_accepted", task_id=1, round=3, trainer="wasm1a", node_id=11, weight=5)
        feed.publish("update_rejected", task_id=1, round=3, trainer=None, node_id=13, reason="unsigned update")
        timing = {"delivery_s": 0.8, "local_train_s": 0.01, "sign_s": 0.004, "return_s": 0.9, "verify_s": 0.03}
        timing |= {"evaluate_wait_s": 0.0004, "inclusion_s": 0.41}
        attested = dict(accuracy=0.91, loss=0.3, tx_hash="ABCDEF0123456789XYZ", accepted=1, rejected=1, timing=timing)
        feed.publish("round_attested", task_id=1, round=3, **attested)
        feed.publish("task_finalized", task_id=2, tx_hash="F1")
        everything.start()
        task_two.start()
        assert task_two.finished.wait(10)  # its task was finalized; task 1's events were not its business
        deadline = time.monotonic() + 10
        while "round_attested" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        row = everything.rounds[(1, 3)]
        assert row["accepted"] == 1 and row["rejected"] == ["unsigned update"] and row["tx"].startswith("ABCDEF")
        assert 0 <= row["seconds"] < 5
        line = round_summary(everything.events[4], row)
        assert "task 1 round 3 attested" in line and "1 accepted, 1 rejected" in line and "accuracy 0.910" in line
        assert "delivery 0.80" in line and "return 0.90" in line and "keeper 0.03" in line and "block 0.41" in line
        assert "evaluation" not in line  # no federated evaluation in this round
        assert set(task_two.rounds) == {(2, 1)} and not everything.finished.is_set()
    finally:
        feed.stop()
