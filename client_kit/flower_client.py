"""The trainer's Flower ClientApp: train on private local data, reply with a signed update.

The SuperNode a trainer starts says where its key and data are (node config `key-file`,
`data-dir`); the keeper's run says which task, chain and contract the update is for (run config).
Only parameters leave the machine, inside a signed envelope binding them to task, round and node.

`fault` in the node config injects a misbehaviour (nan, scale, shape, unsigned, impostor). It exists
for the demo's poisoned trainer and for tests; an honest trainer never sets it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from client_kit.data import load_folder
from client_kit.envelope import UpdateClaim, parameters_digest, sign_update
from client_kit.keys import read_mnemonic_file, wallet_from_mnemonic
from client_kit.models import TrainableModel, build_model, digits_features

app = ClientApp()
FAULTS = ("nan", "scale", "shape", "unsigned", "impostor")


def _setting(context: Context, key: str, default: object = None) -> object:
    if key in context.node_config:
        return context.node_config[key]
    return context.run_config.get(key, default)


def _model_and_data(context: Context) -> tuple[TrainableModel, np.ndarray, np.ndarray]:
    data = load_folder(Path(str(_setting(context, "data-dir"))))
    features = digits_features(data.x)
    model = build_model(
        str(_setting(context, "model", "softmax")), features.shape[1], int(_setting(context, "classes", 10))
    )
    data.check_fits((features.shape[1],), int(_setting(context, "classes", 10)))
    return model, features, data.y


def _arrays_in(message: Message) -> tuple[list[str], list[np.ndarray]]:
    record = message.content["arrays"]
    return list(record.keys()), [record[name].numpy() for name in record.keys()]


@app.train()
def train(message: Message, context: Context) -> Message:
    names, arrays = _arrays_in(message)
    model, x, y = _model_and_data(context)
    model.set_arrays(arrays)
    server_round = int(message.content["config"]["server-round"])
    loss = model.fit(
        x, y, int(_setting(context, "epochs", 10)), float(_setting(context, "learning-rate", 1.0)), seed=server_round
    )
    fault = _active_fault(str(_setting(context, "fault", "")), server_round)
    updated, names = _inject(fault, model.get_arrays(), names)
    reply = RecordDict(
        {
            "arrays": ArrayRecord({n: Array(a) for n, a in zip(names, updated, strict=True)}),
            "metrics": MetricRecord({"num-examples": len(y), "train-loss": float(loss)}),
        }
    )
    if fault != "unsigned":
        mnemonic = read_mnemonic_file(Path(str(_setting(context, "key-file"))))
        key = wallet_from_mnemonic(mnemonic, str(_setting(context, "prefix", "wasm"))).signer()
        if fault == "impostor":
            from cosmpy.crypto.keypairs import PrivateKey

            key = PrivateKey()  # a key that never staked
        claim = UpdateClaim(
            chain_id=str(_setting(context, "chain-id")),
            contract=str(_setting(context, "contract")),
            task_id=int(_setting(context, "task-id")),
            round=server_round,
            node_id=int(context.node_id),
            num_examples=len(y),
            digest=parameters_digest(updated),
        )
        reply["envelope"] = ConfigRecord(sign_update(key, claim, str(_setting(context, "prefix", "wasm"))).to_record())
    return Message(content=reply, reply_to=message)


def _active_fault(fault: str, server_round: int) -> str:
    """`kind` misbehaves every round, `kind@3` only in round 3."""
    kind, _, only_round = fault.partition("@")
    if kind and kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r}; known: {FAULTS}")
    return kind if kind and (not only_round or int(only_round) == server_round) else ""


def _inject(kind: str, arrays: list[np.ndarray], names: list[str]) -> tuple[list[np.ndarray], list[str]]:
    if kind == "nan":
        arrays = [a.copy() for a in arrays]
        arrays[0].flat[0] = np.nan
    elif kind == "scale":
        arrays = [a * 1000.0 for a in arrays]
    elif kind == "shape":
        arrays = [arrays[0][:-1], arrays[1]]
    return arrays, names


@app.evaluate()
def evaluate(message: Message, context: Context) -> Message:
    _, arrays = _arrays_in(message)
    model, x, y = _model_and_data(context)
    model.set_arrays(arrays)
    loss, accuracy = model.evaluate(x, y)
    metrics = MetricRecord({"num-examples": len(y), "eval-loss": loss, "eval-acc": accuracy})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=message)
