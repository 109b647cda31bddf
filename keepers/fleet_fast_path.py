"""The Fleet requests a round is made of, served by Flower's own functions without Flower's
per-request middleware machinery.

A node's poll, heartbeat, object pull or push costs the keeper's SuperLink far more in Starlette's
plumbing than in Flower's handling: profiled during a 1,000-trainer round, the Fleet handlers
themselves took 1.4 % of the SuperLink's busy time, node authentication 4 % and protobuf parsing
under 14 %; the rest went to the three BaseHTTPMiddleware layers (each a task group, memory
streams and extra tasks per request), FastAPI's routing and dependency resolution, and uvicorn.
The SuperLink's one event loop was saturated and the round took 175 s.

For the six requests a round repeats (FAST_FLEET) this layer does, in the same order, exactly what
Flower's stack does, calling Flower's own code for each step:
1. `http_error_translator`: every error becomes Flower's public JSON error response;
2. `ProtobufTranslationMiddleware`'s media-type check and protobuf parsing;
3. `authenticate_node`, as `NodeAuthMiddleware` calls it (signed timestamp, key, node id);
4. the router's call of the `fleet_handlers` function on the SuperLink's state, in a worker thread;
5. the protobuf response, as `ProtobufTranslationMiddleware` writes it.
The Fleet router's version dependency does not reject anything on this API (`reject_incompatible=
False`), and the Fleet event log runs only with an event-log plugin: with one loaded, or for any
other request, Flower's stack serves as before.
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
from flwr.server.superlink.linkstate import LinkState
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

Handler = Callable[[Any, LinkState], ProtoMessage]

# path -> (request type, the router's call of its handler)
FAST_FLEET: dict[str, tuple[type[ProtoMessage], Handler]] = {
    "/v1/fleet/pull-messages": (
        PullMessagesRequest,
        lambda request, state: fleet_handlers.pull_messages(request=request, state=state, store=state.object_store),
    ),
    "/v1/fleet/push-messages": (
        PushMessagesRequest,
        lambda request, state: fleet_handlers.push_messages(request=request, state=state),
    ),
    "/v1/fleet/send-node-heartbeat": (
        SendNodeHeartbeatRequest,
        lambda request, state: fleet_handlers.send_node_heartbeat(request=request, state=state),
    ),
    "/v1/fleet/pull-object": (
        PullObjectRequest,
        lambda request, state: fleet_handlers.pull_object(request=request, state=state),
    ),
    "/v1/fleet/push-object": (
        PushObjectRequest,
        lambda request, state: fleet_handlers.push_object(request=request, state=state),
    ),
    "/v1/fleet/confirm-message-received": (
        ConfirmMessageReceivedRequest,
        lambda request, state: fleet_handlers.confirm_message_received(
            request=request, state=state, store=state.object_store
        ),
    ),
}


def fleet_event_log_loaded(scope: Scope) -> bool:
    """Whether the app has a Fleet event-log plugin (FleetEventLogMiddleware acts only then)."""
    return getattr(scope["app"].state, "fleet_event_log_plugin", None) is not None


def _fast(scope: Scope) -> tuple[type[ProtoMessage], Handler] | None:
    """The request type and handler of a request this layer serves, or None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    if fleet_event_log_loaded(scope):
        return None
    return FAST_FLEET.get(scope["path"])


class FleetFastPath:
    """Serves FAST_FLEET requests with Flower's own steps (see the module doc); passes every
    other request to Flower's stack unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _fast(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        request_type, handler = route
        request = Request(scope, receive)

        async def handle(request: Request) -> Response:
            ProtobufTranslationMiddleware._check_request_media_type(request)
            parsed = ProtobufTranslationMiddleware._parse_request(await request.body(), request_type)
            request.state.protobuf_request = parsed
            await run_in_threadpool(authenticate_node, request)
            state = get_linkstate(request)
            result = await run_in_threadpool(handler, parsed, state)
            return Response(content=result.SerializeToString(), media_type=PROTOBUF_MEDIA_TYPE)

        response = await http_error_translator(request, handle)
        await response(scope, receive, send)


def with_fleet_fast_path(layers: list[Middleware]) -> list[Middleware]:
    """The SuperLink's middleware stack with FleetFastPath ahead of Flower's own layers (after any
    extension's, which still see every request)."""
    first_of_flowers = next((i for i, layer in enumerate(layers) if layer.cls is ControlSensitiveResponseMiddleware), 0)
    return [*layers[:first_of_flowers], Middleware(FleetFastPath), *layers[first_of_flowers:]]
