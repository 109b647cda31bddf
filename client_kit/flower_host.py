"""Serving an organization's own Flower ClientApp, unchanged, inside the task worker.

The app is written for Flower's Message API: its `@app.train()` reads the global model as a
per-layer `ArrayRecord` under "arrays" and its settings from the "config" record, loads its data
from `context.node_config["data-path"]` (Flower's deployment convention), and replies with a
per-layer `ArrayRecord` and a `MetricRecord`. fedchain moves a model as one safetensors Array
(`client_kit.model_format`), so `wire_format_mod` — a Flower client mod — turns the wire form into
the per-layer record on the way in and, on the way out, checks the reply (exactly the global
model's layers, dtypes and shapes) and encodes it back. Everything stays in the sandboxed worker:
the trainer's signer, in another process, checks the update again and signs it.

`FlowerAppTask` is the worker's view of such a task: train, evaluate, and the loss on subsets of
the data (for the keeper's contribution scoring), each by calling the app the way a SuperNode
would.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, Metadata, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable

from client_kit.data import LocalData, write_subset
from client_kit.model_format import bytes_of, decode_views, encode, record_of
from client_kit.protocol import ARRAYS, CONFIG, SERVER_ROUND
from client_kit.settings import FlowerAppConfig

MESSAGE_TTL_S = 3600.0
MAX_SUBSETS = 8  # data subsets kept written (a keeper scores each round on two)
DATA_PATH = "data-path"  # the node_config key Flower's deployment guides load local data from


class AppReplyError(ValueError):
    """The app's reply is not a model of the task's shape, or lacks a metric the task reads."""


def wire_format_mod(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """A Flower client mod: fedchain's one-Array model in, the app's per-layer record out and back."""
    names, views, _ = decode_views(bytes_of(message.content[ARRAYS]))
    content = RecordDict(dict(message.content.items()))
    layers = OrderedDict((name, Array(np.array(view))) for name, view in zip(names, views, strict=True))
    content[ARRAYS] = ArrayRecord(layers)
    kind = message.metadata.message_type
    inbound = Message(content=content, metadata=message.metadata)
    reply = call_next(inbound, context)
    if reply.has_error():
        raise AppReplyError(f"the app replied with an error: {str(reply.error.reason)[:500]}")
    if kind != "train":
        return reply
    records = reply.content.array_records
    if len(records) != 1:
        raise AppReplyError(f"the app's train reply must hold one ArrayRecord, it holds {len(records)}")
    record = next(iter(records.values()))
    if set(record.keys()) != set(names):
        missing, extra = sorted(set(names) - set(record.keys())), sorted(set(record.keys()) - set(names))
        raise AppReplyError(
            f"the app's model has other layers than the global model (missing {missing[:3]}, extra {extra[:3]})"
        )
    arrays = []
    for name, view in zip(names, views, strict=True):
        try:
            array = record[name].numpy()
        except Exception as error:  # an Array of an unknown serialization
            raise AppReplyError(f"layer {name!r} of the app's reply is not a NumPy array: {error}") from None
        if array.shape != view.shape or array.dtype != view.dtype:
            raise AppReplyError(
                f"the app changed layer {name!r} from {view.dtype}{view.shape} to {array.dtype}{array.shape}"
            )
        arrays.append(array)
    outbound = RecordDict({key: value for key, value in reply.content.items() if key not in records})
    outbound[ARRAYS] = record_of(encode(names, arrays))
    return Message(content=outbound, reply_to=message)


class FlowerAppTask:
    """The worker's view of a task whose client.py serves an organization's ClientApp."""

    def __init__(
        self, app: ClientApp, config: FlowerAppConfig, data: LocalData | None, node_config: dict[str, Any]
    ) -> None:
        self.app = app
        self.config = config
        self.data = data
        self.node_config = {key: value for key, value in node_config.items() if key != DATA_PATH}
        self._subsets = tempfile.TemporaryDirectory(prefix="fedchain-rows-")  # the sandbox's own /tmp
        self._subset_contexts: dict[bytes, Context] = {}  # by row set, oldest first
        self._context = self._new_context(data.source if data is not None else None)

    def _new_context(self, data_path: str | None) -> Context:
        node_config = {**self.node_config, **({DATA_PATH: data_path} if data_path is not None else {})}
        return Context(
            run_id=0, node_id=0, node_config=node_config, state=RecordDict(), run_config=dict(self.config.run_config)
        )

    def describe(self) -> dict[str, Any]:
        return {"names": [], "parameters": 0, **({"examples": len(self.data)} if self.data is not None else {})}

    def _ask(self, kind: str, model: bytes, task_round: int, context: Context) -> Message:
        config = {**(self.config.train_config if kind == "train" else {}), SERVER_ROUND: task_round}
        metadata = Metadata(  # what a SuperNode's message carries; the app may read, never needs, it
            run_id=0,
            message_id=os.urandom(16).hex(),
            src_node_id=0,
            dst_node_id=0,
            reply_to_message_id="",
            group_id=str(task_round),
            created_at=time.time(),
            ttl=MESSAGE_TTL_S,
            message_type=kind,
        )
        message = Message(
            content=RecordDict({ARRAYS: record_of(model), CONFIG: ConfigRecord(config)}), metadata=metadata
        )
        return wire_format_mod(message, context, self.app)

    def train(self, header: dict[str, Any], model: bytes) -> tuple[dict[str, Any], bytes]:
        reply = self._ask("train", model, int(header["round"]), self._context)
        loss = _metric(reply, self.config.train_loss_key)
        assert self.data is not None
        return {"loss": loss, "num_examples": len(self.data)}, bytes_of(reply.content[ARRAYS])

    def evaluate(self, model: bytes, context: Context | None = None) -> dict[str, Any]:
        reply = self._ask("evaluate", model, 0, context or self._context)
        loss = _metric(reply, self.config.eval_loss_key)
        value = _metric(reply, self.config.metric_key)
        assert self.data is not None
        return {"loss": loss, "metric": value, "num_examples": len(self.data)}

    def losses(self, row_sets: list[np.ndarray], model: bytes) -> list[float]:
        """The app's evaluation loss on each subset of the data, each written as a data folder of the
        same layout for the app to read (a Flower app loads its data itself, from `data-path`). A
        keeper asks for the same subsets for every candidate model of a round: each is written once."""
        return [self.evaluate(model, self._subset_context(rows))["loss"] for rows in row_sets]

    def _subset_context(self, rows: np.ndarray) -> Context:
        assert self.data is not None
        key = rows.tobytes()
        if key not in self._subset_contexts:
            if len(self._subset_contexts) >= MAX_SUBSETS:  # the oldest round's subsets
                oldest = next(iter(self._subset_contexts))
                shutil.rmtree(self._subset_contexts.pop(oldest).node_config[DATA_PATH], ignore_errors=True)
            folder = tempfile.mkdtemp(dir=self._subsets.name)
            write_subset(Path(self.data.source), len(self.data), rows, Path(folder))
            self._subset_contexts[key] = self._new_context(folder)
        return self._subset_contexts[key]


def _metric(reply: Message, key: str) -> float:
    """The number `key` in the reply's metric records (NaN, if the app says so, is the caller's to judge)."""
    for record in reply.content.metric_records.values():
        if key in record:
            value = record[key]
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            raise AppReplyError(f"the app's metric {key!r} is {str(value)[:40]}, not a number")
    raise AppReplyError(f"the app's reply has no metric {key!r} (the task reads it; see `build-client --flower-*`)")
