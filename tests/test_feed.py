"""The keeper's WebSocket live feed: order, backlog, and live delivery to several subscribers."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from keepers.cli.keeper_cmds import print_event
from keepers.events import (
    EVENT_TYPES,
    LastReply,
    Published,
    RoundAttested,
    RoundStarted,
    RoundTiming,
    TaskFinalized,
    TrainerConnected,
    UpdateAccepted,
    UpdateRejected,
)
from keepers.feed import FeedFollower, LiveFeed, round_summary

TIMING = RoundTiming(
    train_wait_s=1.7,
    verify_s=0.03,
    aggregate_s=0.0,
    evaluate_wait_s=0.0004,
    inclusion_s=0.41,
    last_reply=LastReply(delivery_s=0.8, local_train_s=0.01, sign_s=0.004, return_s=0.9),
)


def _attested(task_id: int, number: int, tx: str = "ABCDEF0123456789XYZ") -> RoundAttested:
    return RoundAttested(task_id, number, tx, "bafyglobal", "accuracy", 0.91, 0.3, None, 0.91, 1, 1, TIMING)


def test_feed_delivers_backlog_then_live_events_in_order() -> None:
    feed = LiveFeed()
    url = feed.start()
    try:
        assert url.startswith("ws://127.0.0.1:")
        feed.publish(TrainerConnected(1, 11, "wasm1a"))
        feed.publish(UpdateAccepted(1, 1, "wasm1a", 11, 300))
        with connect(url) as early, connect(url) as late_joiner:
            feed.publish(UpdateRejected(1, 1, None, 12, "norm 9.1 exceeds bound 5.0", True))
            feed.publish(_attested(1, 1, "ABC"))
            for subscriber in (early, late_joiner):
                events = [json.loads(subscriber.recv(timeout=5)) for _ in range(4)]
                assert [e["event"] for e in events] == [
                    "trainer_connected",
                    "update_accepted",
                    "update_rejected",
                    "round_attested",
                ]
                assert [e["seq"] for e in events] == [1, 2, 3, 4]
                assert events[2]["reason"].startswith("norm") and events[2]["malicious"] is True
                assert events[3]["timing"]["delivery_s"] == 0.8 and events[3]["timing"]["inclusion_s"] == 0.41
    finally:
        feed.stop()


def test_only_programs_and_the_web_app_may_subscribe() -> None:
    """A page of any other site, opened in the keeper operator's browser, cannot read the feed."""
    feed = LiveFeed(origins=("http://127.0.0.1:3000",))
    url = feed.start()
    try:
        feed.publish(TrainerConnected(1, 11, "wasm1a"))
        with connect(url) as program, connect(url, origin="http://127.0.0.1:3000") as web_app:  # type: ignore[arg-type]
            for subscriber in (program, web_app):
                assert json.loads(subscriber.recv(timeout=5))["event"] == "trainer_connected"
        with pytest.raises(InvalidStatus, match="403"):
            connect(url, origin="http://evil.example")  # type: ignore[arg-type]
    finally:
        feed.stop()


def test_every_event_kind_survives_its_json_form_and_unknown_kinds_are_skipped() -> None:
    samples = [
        TrainerConnected(1, 11, "wasm1a"),
        RoundStarted(1, 2, 11),
        UpdateAccepted(1, 2, "wasm1a", 11, 300),
        UpdateRejected(1, 2, None, 12, "unsigned update", False),
        _attested(1, 2),
        TaskFinalized(1, "F1"),
    ]
    assert {type(sample) for sample in samples} <= set(EVENT_TYPES.values())
    for number, sample in enumerate(samples, start=1):
        published = Published(number, 1700000000.5, sample)
        assert Published.from_json(json.loads(json.dumps(published.to_json()))) == published
    assert Published.from_json({"seq": 9, "time": 1.0, "event": "from_a_newer_keeper", "task_id": 1}) is None


def test_a_follower_builds_round_rows_with_their_time_and_summary() -> None:
    feed = LiveFeed()
    feed.start()
    seen: list[str] = []
    everything = FeedFollower(feed.port, on_event=lambda published: seen.append(published.event.KIND))
    task_two = FeedFollower(feed.port, task_id=2)
    try:
        feed.publish(RoundStarted(1, 3, 11))
        feed.publish(RoundStarted(2, 1, 12))
        feed.publish(UpdateAccepted(1, 3, "wasm1a", 11, 5))
        feed.publish(UpdateRejected(1, 3, None, 13, "unsigned update", False))
        feed.publish(_attested(1, 3))
        feed.publish(TaskFinalized(2, "F1"))
        everything.start()
        task_two.start()
        assert task_two.finished.wait(10)  # its task was finalized; task 1's events were not its business
        deadline = time.monotonic() + 10
        while "round_attested" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        row = everything.rounds[(1, 3)]
        assert row.accepted == 1 and row.rejected == ["unsigned update"] and row.attested is not None
        assert row.attested.tx_hash.startswith("ABCDEF") and row.seconds is not None and 0 <= row.seconds < 5
        line = round_summary(row.attested, row)
        assert "task 1 round 3 attested" in line and "1 accepted, 1 rejected" in line and "accuracy 0.91" in line
        assert "delivery 0.80" in line and "return 0.90" in line and "keeper 0.03" in line and "block 0.41" in line
        assert "evaluation" not in line  # no federated evaluation in this round
        assert set(task_two.rounds) == {(2, 1)} and not everything.finished.is_set()
    finally:
        feed.stop()


def test_text_from_trainers_is_printed_as_text_not_as_markup(capsys: pytest.CaptureFixture[str]) -> None:
    """A rejection reason quotes what a trainer sent; Rich used to render it as markup."""
    follower = FeedFollower(port=1)
    reason = "layers ['[bold red]x[/bold red]', '[link=http://evil.example]click[/link]'] differ"
    print_event(follower, Published(1, 1.0, UpdateRejected(1, 2, "wasm1a", 3, reason, True)))
    printed = capsys.readouterr().out
    assert "[bold red]x[/bold red]" in printed and "[link=http://evil.example]click[/link]" in printed


def test_a_non_finite_figure_reaches_subscribers_as_null_not_as_unparsable_json() -> None:
    """Review: a NaN anywhere in an event went out as `NaN`, which browsers' JSON.parse refuses."""
    feed = LiveFeed()
    url = feed.start()
    try:
        odd = RoundAttested(1, 1, "TX", "bafyglobal", "accuracy", 0.9, float("nan"), float("inf"), None, 1, 0, TIMING)
        feed.publish(odd)
        with connect(url) as subscriber:
            text = subscriber.recv(timeout=5)
        assert "NaN" not in text and "Infinity" not in text
        event = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the feed"))
        assert (event["loss"], event["federated_value"], event["value"]) == (None, None, 0.9)
    finally:
        feed.stop()
