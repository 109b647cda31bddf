"""The requests a round is made of, nodes' and the ServerApp's, served by Flower's own functions
without Flower's per-request middleware machinery.

A node's poll, heartbeat, object pull or push costs the keeper's SuperLink far more in Starlette's
plumbing than in Flower's handling: profiled during a 1,000-trainer round, the Fleet handlers
themselves took 1.4 % of the SuperLink's busy time, node authentication 4 % and protobuf parsing
under 14 %; the rest went to the three BaseHTTPMiddleware layers (each a task group, memory
streams and extra tasks per request), FastAPI's routing and dependency resolution, and uvicorn.
The SuperLink's one event loop was saturated and the round took 175 s.

The ServerApp's side of a round is the same requests on the Runtime API: its pulls of every
reply's objects and its pushes of every message's, each through the same machinery (about 2 ms of
the event loop apiece; ten replies' 70 object pulls took 0.15 s of a 10-trainer round).

For the ten requests a round repeats (FAST_PATHS) this layer does, in the same order, exactly what
Flower's stack does, calling Flower's own code for each step:
1. `http_error_translator`: every error becomes Flower's public JSON error response;
2. `ProtobufTranslationMiddleware`'s media-type check and protobuf parsing;
3. in a worker thread, the checks before the handler:
   - Fleet: `authenticate_node`, as `NodeAuthMiddleware` calls it (signed timestamp, key, node id);
     the Fleet router's version dependency does not reject anything (`reject_incompatible=False`);
   - Runtime: the router's dependencies in FastAPI's order: the Runtime version check
     (`VersionDependency`, as `create_runtime_router("SuperLink")` makes it), the Runtime state
     and handlers, and the task-token authentication (`authenticate_task`);
   then the router's call of the handler (`fleet_handlers`' function on the SuperLink's state, or
   the Runtime handlers' method with the authenticated task);
4. the protobuf response, as `ProtobufTranslationMiddleware` writes it.
The Fleet event log runs only with an event-log plugin: with one loaded, Fleet requests go through
Flower's stack, and so does every other request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flwr.proto.fleet_pb2 import PullMessagesRequest, PushMessagesRequest
from flwr.proto.heartbeat_pb2 import SendNodeHeartbeatRequest
from flwr.proto.message_pb2 import (
    ConfirmMessageReceivedRequest,
    PullObjectRequest,
    PushObjectRequest,
)
from flwr.proto.runtime_pb2 import PullAppMessagesRequest
from flwr.supercore.constant import TASK_TOKEN_HEADER
from flwr.supercore.dependencies.runtime import get_runtime_handlers, get_runtime_state
from flwr.supercore.dependencies.task import authenticate_task
from flwr.supercore.dependencies.version import VersionDependency
from flwr.supercore.error import http_error_translator
from flwr.supercore.protobuf.constants import PROTOBUF_MEDIA_TYPE
from flwr.supercore.protobuf.translation import ProtobufTranslationMiddleware
from flwr.superlink.dependencies.linkstate import get_linkstate
from flwr.superlink.routers.control.middlewares import ControlSensitiveResponseMiddleware
from flwr.superlink.routers.fleet.node_auth import authenticate_node
from flwr.superlink.servicer.fleet import fleet_handlers
from google.protobuf.message import Message as ProtoMessage
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Serve = Callable[[Request, Any], ProtoMessage]  # the checks and the handler, in a worker thread


def _fleet(handler: str, with_store: bool = False) -> Serve:
    """A Fleet request: the node authenticated, then the router's call of its handler (looked up
    when called: the keeper's guards replace some of `fleet_handlers`' functions)."""

    def serve(request: Request, parsed: Any) -> ProtoMessage:
        authenticate_node(request)
        state = get_linkstate(request)
        store = {"store": state.object_store} if with_store else {}
        return getattr(fleet_handlers, handler)(request=parsed, state=state, **store)

    return serve


RUNTIME_VERSION = VersionDependency(component_name="SuperLink", connection_name="Caller <-> SuperLink Runtime API")


def _runtime(method: str) -> Serve:
    """A Runtime request: the router's dependencies in FastAPI's order, then its handler."""

    def serve(request: Request, parsed: Any) -> ProtoMessage:
        RUNTIME_VERSION(request)
        state = get_runtime_state(request)
        handlers = get_runtime_handlers(request)
        task = authenticate_task(request, request.headers.get(TASK_TOKEN_HEADER) or None, state)
        return getattr(handlers, method)(parsed, state, task)

    return serve


# path -> (request type, what the stack does with it after parsing)
FAST_PATHS: dict[str, tuple[type[ProtoMessage], Serve]] = {
    "/v1/fleet/pull-messages": (PullMessagesRequest, _fleet("pull_messages", with_store=True)),
    "/v1/fleet/push-messages": (PushMessagesRequest, _fleet("push_messages")),
    "/v1/fleet/send-node-heartbeat": (SendNodeHeartbeatRequest, _fleet("send_node_heartbeat")),
    "/v1/fleet/pull-object": (PullObjectRequest, _fleet("pull_object")),
    "/v1/fleet/push-object": (PushObjectRequest, _fleet("push_object")),
    "/v1/fleet/confirm-message-received": (ConfirmMessageReceivedRequest, _fleet("confirm_message_received", True)),
    "/v1/runtime/pull-messages": (PullAppMessagesRequest, _runtime("pull_messages")),
    "/v1/runtime/pull-object": (PullObjectRequest, _runtime("pull_object")),
    "/v1/runtime/push-object": (PushObjectRequest, _runtime("push_object")),
    "/v1/runtime/confirm-message-received": (ConfirmMessageReceivedRequest, _runtime("confirm_message_received")),
}


def fleet_event_log_loaded(scope: Scope) -> bool:
    """Whether the app has a Fleet event-log plugin (FleetEventLogMiddleware acts only then)."""
    return getattr(scope["app"].state, "fleet_event_log_plugin", None) is not None


def _fast(scope: Scope) -> tuple[type[ProtoMessage], Serve] | None:
    """The request type and service of a request this layer serves, or None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = scope["path"]
    if path.startswith("/v1/fleet/") and fleet_event_log_loaded(scope):
        return None
    return FAST_PATHS.get(path)


class RoundFastPath:
    """Serves FAST_PATHS requests with Flower's own steps (see the module doc); passes every
    other request to Flower's stack unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _fast(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        request_type, serve = route
        request = Request(scope, receive)

        async def handle(request: Request) -> Response:
            ProtobufTranslationMiddleware._check_request_media_type(request)
            parsed = ProtobufTranslationMiddleware._parse_request(await request.body(), request_type)
            request.state.protobuf_request = parsed
            result = await run_in_threadpool(serve, request, parsed)
            return Response(content=result.SerializeToString(), media_type=PROTOBUF_MEDIA_TYPE)

        response = await http_error_translator(request, handle)
        await response(scope, receive, send)


def with_round_fast_path(layers: list[Middleware]) -> list[Middleware]:
    """The SuperLink's middleware stack with RoundFastPath ahead of Flower's own layers (after any
    extension's, which still see every request)."""
    first_of_flowers = next((i for i, layer in enumerate(layers) if layer.cls is ControlSensitiveResponseMiddleware), 0)
    return [*layers[:first_of_flowers], Middleware(RoundFastPath), *layers[first_of_flowers:]]
