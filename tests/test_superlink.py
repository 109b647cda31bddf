"""The keeper's SuperLink answers a node's poll exactly as Flower's does, looking only at its
messages, keeps a node's idle connection open between polls, and applies the Control API's
middleware to Control API requests only.

Two real Flower in-memory states get the same nodes, run and messages (one already expired);
each node polls both, one through Flower's own `get_message_ins`, one through
`keepers.superlink.messages_for_node`: the same messages, marked delivered the same way; and a
message its node never confirmed is delivered again, through Flower's own Fleet handlers.
"""

from __future__ import annotations

import http.client
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flwr.app import ConfigRecord, Message, RecordDict
from flwr.common import MessageType
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.proto.fleet_pb2 import PullMessagesRequest
from flwr.proto.node_pb2 import Node
from flwr.server.superlink.linkstate.in_memory_linkstate import InMemoryLinkState
from flwr.supercore.constant import NOOP_FEDERATION_ID, TASK_TOKEN_HEADER
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects, get_object_tree
from flwr.supercore.object_store import ObjectStoreFactory
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.federation.noop_federation_manager import NoOpFederationManager
from flwr.superlink.routers.control.middlewares import ControlSensitiveResponseMiddleware
from flwr.superlink.routers.fleet.middlewares import FleetEventLogMiddleware
from flwr.superlink.servicer.fleet import fleet_handlers
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from chain_config import LocalnetConfig
from keepers import runtime
from keepers.certificate import ensure_certificate
from keepers.run_config import TaskRunConfig
from keepers.runtime import start_superlink
from keepers.superlink import Where, messages_for_node, middleware_where_it_acts, replies_once_whole
from localnet.processes import free_port

NODES = 4


def _state() -> tuple[InMemoryLinkState, list[int], int]:
    state = InMemoryLinkState(NoOpFederationManager(), ObjectStoreFactory().store())
    nodes = [state.create_node("owner", "owner", os.urandom(32), 30.0) for _ in range(NODES)]
    for node in nodes:
        state.activate_node(node, 30.0)
    run = state.create_run(None, None, None, {}, NOOP_FEDERATION_ID, None, "owner", "serverapp")
    return state, nodes, run


def _state_of_this_run(monkeypatch: pytest.MonkeyPatch) -> tuple[InMemoryLinkState, list[int], int]:
    """A state as `_state` makes it, its run this process's (messages are built for it)."""
    state, nodes, run = _state()
    monkeypatch.setattr(TaskIdentity, "_run_id", run)
    monkeypatch.setattr(TaskIdentity, "_task_id", state.run_ids[run].run.primary_task_id)
    return state, nodes, run


@pytest.fixture()
def as_server_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Messages are built as the ServerApp builds them: give this process its identity."""
    monkeypatch.setattr(TaskIdentity, "_node_id", SUPERLINK_NODE_ID)
    yield


def _message(run: int, node: int, number: int, ttl: float) -> Message:
    message = Message(
        content=RecordDict({"config": ConfigRecord({"n": number})}), dst_node_id=node, message_type=MessageType.TRAIN
    )
    message.metadata.__dict__["_ttl"] = ttl
    message.metadata.__dict__["_message_id"] = message.object_id
    return message


@pytest.mark.usefixtures("as_server_app")
def test_a_poll_finds_the_same_messages_as_flowers(monkeypatch: pytest.MonkeyPatch) -> None:
    flowers, ours = _state(), _state()
    for state, nodes, run in (flowers, ours):
        monkeypatch.setattr(TaskIdentity, "_run_id", run)
        monkeypatch.setattr(TaskIdentity, "_task_id", state.run_ids[run].run.primary_task_id)
        for number in range(12):
            node = nodes[number % NODES]
            ttl = 0.3 if number == 5 else 3600.0  # one message for node 1 expires before its poll
            assert state.store_message_ins(_message(run, node, number, ttl)) is not None
    time.sleep(0.4)
    for index in range(NODES):
        for limit in (None, 1):
            theirs = flowers[0].get_message_ins(flowers[1][index], limit)
            mine = messages_for_node(ours[0], ours[1][index], limit)
            assert [m.content["config"]["n"] for m in mine] == [m.content["config"]["n"] for m in theirs]
            assert all(m.metadata.delivered_at for m in mine)
    assert len(ours[0].message_ins_store) == len(flowers[0].message_ins_store) == 11  # the expired one is gone
    with pytest.raises(AssertionError):
        messages_for_node(ours[0], ours[1][0], 0)


@pytest.mark.usefixtures("as_server_app")
def test_a_message_its_node_never_confirmed_is_delivered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (issue 18): Flower marks a message delivered when a poll finds it, so a node whose
    poll's answer was lost (a timeout on a keeper busy with 1,000 nodes) never saw its train
    message and its trainer was counted a no-show. Here the node's next poll gets it again, until
    the node confirms it has it; then never again."""
    state, nodes, run = _state_of_this_run(monkeypatch)
    message = _message(run, nodes[0], 1, 3600.0)
    assert state.store_message_ins(message) is not None
    state.object_store.preregister(run, get_object_tree(message))  # as the ServerApp's push does
    for object_id, pushed in get_all_nested_objects(message).items():
        state.object_store.put(object_id, pushed.deflate())
    poll = PullMessagesRequest(node=Node(node_id=nodes[0]))

    def pulled() -> list[str]:
        answer = fleet_handlers.pull_messages(poll, state, state.object_store)
        return [m.metadata.message_id for m in answer.messages_list]

    monkeypatch.setattr(InMemoryLinkState, "get_message_ins", messages_for_node)
    assert pulled() == [message.object_id]  # this answer is lost on its way to the node
    assert pulled() == [message.object_id]  # Flower's own state: nothing, the message is gone
    assert messages_for_node(state, nodes[1], None) == []  # nobody else's
    state.object_store.delete(message.object_id)  # all Fleet's ConfirmMessageReceived changes (of a running run)
    assert pulled() == []


@pytest.mark.usefixtures("as_server_app")
def test_a_message_is_handed_over_once_its_objects_are_all_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (issue 18): Flower hands a node its message before the ServerApp has pushed the
    message's objects; 1,000 nodes asking again and again for them filled the SuperLink, and the
    ServerApp's own pushes waited behind them (62 trainers had their message after five minutes).
    Here a poll finds the message only once all of it can be pulled."""
    state, nodes, run = _state_of_this_run(monkeypatch)
    message = _message(run, nodes[0], 1, 3600.0)
    state.store_message_ins(message)
    state.object_store.preregister(run, get_object_tree(message))
    objects = get_all_nested_objects(message)
    assert len(objects) > 2
    for object_id in list(objects)[:-1]:  # children first, as Flower's push does; one still missing
        state.object_store.put(object_id, objects[object_id].deflate())
        assert messages_for_node(state, nodes[0], 1) == []
    last = list(objects)[-1]
    state.object_store.put(last, objects[last].deflate())
    assert [m.object_id for m in messages_for_node(state, nodes[0], 1)] == [message.object_id]


@pytest.mark.usefixtures("as_server_app")
def test_a_reply_is_handed_to_the_server_app_once_its_objects_are_all_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (issue 18): Flower hands the ServerApp a reply whose objects the trainer is still
    pushing, and the grid's pass over the round's replies then backs off waiting for them while
    complete replies wait behind it (10-trainer rounds: 0.4 s from a reply's making to the keeper).
    Here the pass gets the reply only once all of it can be pulled."""
    state, nodes, run = _state_of_this_run(monkeypatch)
    message = _message(run, nodes[0], 1, 3600.0)
    state.store_message_ins(message)
    reply = Message(RecordDict({"metrics": ConfigRecord({"loss": 0.5})}), reply_to=message)
    reply.metadata.__dict__["_message_id"] = reply.object_id
    assert state.store_message_res(reply) is not None
    state.object_store.preregister(run, get_object_tree(reply))  # as a trainer's PushMessages does
    objects = get_all_nested_objects(reply)
    for object_id in list(objects)[:-1]:
        state.object_store.put(object_id, objects[object_id].deflate())
        assert replies_once_whole(state, {message.object_id}, run) == []
    last = list(objects)[-1]
    state.object_store.put(last, objects[last].deflate())
    assert [r.object_id for r in replies_once_whole(state, {message.object_id}, run)] == [reply.object_id]


@pytest.mark.usefixtures("as_server_app")
def test_flower_delivers_a_message_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The behaviour the keeper's SuperLink changes, on Flower's own state."""
    state, nodes, run = _state_of_this_run(monkeypatch)
    message = _message(run, nodes[0], 1, 3600.0)
    state.store_message_ins(message)
    state.object_store.preregister(run, get_object_tree(message))
    assert len(state.get_message_ins(nodes[0], 1)) == 1
    assert state.get_message_ins(nodes[0], 1) == []


def test_an_idle_node_keeps_its_connection_between_polls(tmp_path: Path) -> None:
    """Review (issue 18): uvicorn closed a connection after 5 idle seconds, so every poll of a node
    polling every 8 s paid a new TLS handshake; with 1,000 nodes 687 handshakes timed out. The
    keeper's SuperLink keeps a connection open across an idle gap longer than that."""
    certificate = ensure_certificate(tmp_path / "tls", [])
    port = free_port()
    link = start_superlink(port, tmp_path / "link", certificate)
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=ssl.create_default_context(cadata=certificate.pem.decode()), timeout=10
    )
    try:
        connection.request("GET", "/")
        assert connection.getresponse().read()
        opened = connection.sock
        time.sleep(6.5)  # idle longer than uvicorn's default keep-alive
        connection.request("GET", "/")  # on a closed connection: RemoteDisconnected
        assert connection.getresponse().read()
        assert connection.sock is opened  # the same connection answered
    finally:
        connection.close()
        link.stop()


def _app(layers: list[Middleware]) -> Starlette:
    async def answer(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/v1/control/get-login-details", answer, methods=["POST"]),
            Route("/v1/fleet/pull-object", answer, methods=["POST"]),
        ],
        middleware=layers,
    )
    app.state.fleet_event_log_plugin = None
    return app


def test_control_middleware_acts_on_control_requests_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (issue 18): every node request paid for five middleware layers that only hand it on
    (about 0.8 ms of the SuperLink's 1.8 ms per request, measured). They are now applied only where
    they act: a Control request still gets each of them, a Fleet request none."""
    dispatched: list[str] = []
    flowers_dispatch = ControlSensitiveResponseMiddleware.dispatch

    async def counted(self: ControlSensitiveResponseMiddleware, request: Request, call_next: object) -> object:
        dispatched.append(request.url.path)
        return await flowers_dispatch(self, request, call_next)  # type: ignore[arg-type]

    monkeypatch.setattr(ControlSensitiveResponseMiddleware, "dispatch", counted)
    layers = middleware_where_it_acts(
        [Middleware(ControlSensitiveResponseMiddleware), Middleware(FleetEventLogMiddleware)]
    )
    assert [layer.cls for layer in layers] == [Where, Where]
    with TestClient(_app(layers)) as client:
        control = client.post("/v1/control/get-login-details")
        fleet = client.post("/v1/fleet/pull-object")
    assert control.headers["cache-control"] == "no-store"  # Flower's middleware did its work
    assert "cache-control" not in fleet.headers and fleet.text == "ok"
    assert dispatched == ["/v1/control/get-login-details"]  # the Fleet request never entered it


class _RunsOnABusySuperLink:
    """The Control API of a SuperLink too busy to answer ListRuns; what is asked of it is noted."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def ListRuns(self, request: object) -> object:  # noqa: N802 (Flower's name)
        self.asked.append("ListRuns")
        raise httpx.ReadTimeout("busy")

    def StopRun(self, request: object) -> object:  # noqa: N802
        self.asked.append("StopRun")
        return object()


def test_a_run_lost_track_of_is_stopped_before_another_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: a SuperLink too busy to answer for RUN_LOST_S made the keeper call its run lost and
    start the task again, while the first run still trained beside the new one."""
    busy = _RunsOnABusySuperLink()
    monkeypatch.setattr(runtime, "control_client", lambda *args: busy)
    monkeypatch.setattr(runtime, "RUN_LOST_S", 0.2)
    monkeypatch.setattr(runtime, "RUN_POLL_S", 0.05)
    assert runtime.wait_for_run(1, 7, timeout=3600) == runtime.RunOutcome.LOST
    assert busy.asked[-1] == "StopRun"


def test_only_finished_runs_survive_the_start_of_a_new_one(tmp_path: Path) -> None:
    """Before the keeper starts a run, every run its SuperLink has not finished is stopped: here a
    real SuperLink with a real run (which never gets a ServerApp to finish it)."""
    certificate = ensure_certificate(tmp_path / "tls", [])
    port = free_port()
    link = start_superlink(port, tmp_path / "link", certificate)
    try:
        config = TaskRunConfig(
            1, LocalnetConfig().network(), "wasm1hub", tmp_path / "key", "http://127.0.0.1:1", 1.0, free_port()
        )
        run_id = runtime.start_task_run(port, tmp_path / "link", config, certificate)
        assert runtime.stop_unfinished_runs(port, certificate) == [run_id]
        assert runtime.wait_for_run(port, run_id, timeout=60, certificate=certificate) == runtime.RunOutcome.FAILED
        assert runtime.stop_unfinished_runs(port, certificate) == []
    finally:
        link.stop()


def test_the_round_fast_path_answers_faults_as_flowers_stack_does(tmp_path: Path) -> None:
    """The round's Fleet and Runtime requests skip Flower's middleware machinery
    (`keepers.fast_path`), not its checks: on the real keeper SuperLink, a fast-path request and
    one Flower's stack serves (a run lookup on the same API) get the same answer to a request
    without its signature or task token, from an incompatible version, with a wrong media type
    and with a broken payload."""
    certificate = ensure_certificate(tmp_path / "tls", [])
    port = free_port()
    link = start_superlink(port, tmp_path / "link", certificate)
    proto = {"content-type": "application/protobuf"}
    old_version = {
        **proto,
        "flwr-package-name": "flwr",
        "flwr-package-version": "1.0.0",
        "flwr-component-name": "flwr-serverapp",
    }
    faults = {
        "unauthenticated": (PullMessagesRequest(node=Node(node_id=7)).SerializeToString(), proto),
        "wrong token": (b"", {**proto, TASK_TOKEN_HEADER: "forged"}),
        "old version": (b"", old_version),
        "media type": (b"", {"content-type": "application/json"}),
        "payload": (b"\xff\xff\xff", proto),
    }
    pairs = {
        "fleet": [("pull-messages", "get-run"), ("pull-object", "get-run"), ("push-object", "get-run")],
        "runtime": [(fast, "get-nodes") for fast in ("pull-messages", "pull-object", "push-object")]
        + [("confirm-message-received", "get-nodes")],
    }
    try:
        with httpx.Client(verify=ssl.create_default_context(cadata=certificate.pem.decode()), timeout=10) as client:
            for api, paths in pairs.items():
                for fast_path, flowers_path in paths:
                    for fault, (body, headers) in faults.items():
                        fast, flowers = (
                            client.post(f"https://127.0.0.1:{port}/v1/{api}/{path}", content=body, headers=headers)
                            for path in (fast_path, flowers_path)
                        )
                        case = f"{api}/{fast_path}: {fault}"
                        assert fast.status_code == flowers.status_code >= 400, case
                        assert fast.json() == flowers.json(), case
    finally:
        link.stop()


def test_a_run_starts_when_the_keeper_was_started_with_forced_colour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review (issue 18): started from Playwright (FORCE_COLOR=1), `flwr run --format json` printed
    its JSON in colour codes, the keeper could not read the run id, and no task run ever started."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    port = free_port()
    link = start_superlink(port, tmp_path / "link")
    try:
        app = Path(__file__).resolve().parents[1] / "bench" / "plain_flower"
        run_id = runtime.start_run(port, tmp_path / "link", "coloured", {"rounds": 1}, app)
        assert run_id > 0
        runtime.stop_unfinished_runs(port, None)
    finally:
        link.stop()
