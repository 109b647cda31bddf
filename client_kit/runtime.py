"""The trainer runtime a task's client.py runs on: check, train, sign, serve, and say what was earned.

A rendered client.py holds the task's settings and model and hands them to `TaskClient`; `main`
is its command line. Before anything trains, the runtime refuses to go on unless the file's own
sha256 equals the one the task registered on chain, the trainer's key joined the task, and the
local data fits the model. Then it serves the task's rounds to the keeper with `TrainerNode` (the
ClientApp below, in this process) and, once the chain shows the task finished, prints the claim.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import numpy as np
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from rich.console import Console
from rich.live import Live
from rich.table import Table

from chain_config import Network
from client_kit.data import DataError, LocalData, load_folder
from client_kit.envelope import UpdateClaim, parameters_digest, sign_update
from client_kit.keys import KeysError, KeyStore, read_mnemonic_file, wallet_from_mnemonic
from client_kit.model_format import from_record, to_record
from client_kit.models import TrainableModel
from client_kit.node import TrainerNode

FAULTS = ("nan", "scale", "shape", "unsigned", "impostor")


class TrainerError(RuntimeError):
    """The trainer cannot (or must not) train: the message says why and what to do."""


@dataclass(frozen=True)
class ClientSettings:
    """What a rendered client.py embeds: public task parameters, nothing secret."""

    template: str
    model_name: str
    chain_id: str
    contract: str
    superlink: str  # the keeper's SuperLink (Fleet API) address
    grpc_url: str
    rpc_url: str
    denom: str
    prefix: str
    gas_price: str
    input_shape: tuple[int, ...]
    classes: int
    input_scale: float
    epochs: int
    learning_rate: float
    batch_size: int
    model: dict[str, Any] = field(default_factory=dict)  # template-specific (class, constructor args)
    runtime: str = "fedchain>=0.1"

    @staticmethod
    def for_network(
        network: Network,
        contract: str,
        superlink: str,
        model_name: str,
        input_shape: tuple[int, ...],
        classes: int,
        input_scale: float = 1.0,
        epochs: int = 5,
        learning_rate: float = 0.1,
        batch_size: int = 32,
    ) -> ClientSettings:
        """Settings for a task on `network`; the template and model are filled in by the builder."""
        return ClientSettings(
            template="",
            model_name=model_name,
            chain_id=network.chain_id,
            contract=contract,
            superlink=superlink,
            grpc_url=network.grpc_url,
            rpc_url=network.rpc_url,
            denom=network.denom,
            prefix=network.bech32_prefix,
            gas_price=str(network.gas_price),
            input_shape=tuple(input_shape),
            classes=classes,
            input_scale=input_scale,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> ClientSettings:
        data = json.loads(text)
        data["input_shape"] = tuple(data["input_shape"])
        return ClientSettings(**data)

    def network(self, grpc_url: str | None = None, rpc_url: str | None = None) -> Network:
        return Network(
            chain_id=self.chain_id,
            grpc_url=grpc_url or self.grpc_url,
            rpc_url=rpc_url or self.rpc_url,
            denom=self.denom,
            gas_price=Decimal(self.gas_price),
            bech32_prefix=self.prefix,
        )


@dataclass
class Trainer:
    """Who trains (the staked key, kept in memory only), on what, for which task."""

    wallet: LocalWallet
    task_id: int
    data: LocalData
    fault: str = ""


@dataclass
class RoundLog:
    """The trainer's own view of its rounds, for the live display."""

    rounds: dict[int, dict[str, float]] = field(default_factory=dict)
    sink: Callable[[int, dict[str, float]], None] | None = None  # where a node process reports them

    def note(self, task_round: int, **values: float) -> None:
        self.rounds.setdefault(task_round, {}).update(values)
        if self.sink is not None:
            self.sink(task_round, values)


class TaskClient:
    """The task's Flower ClientApp: local training on private data, replies signed with the staked key."""

    def __init__(self, settings: ClientSettings, build_model: Callable[[], TrainableModel]) -> None:
        self.settings = settings
        self.build_model = build_model
        self.trainer: Trainer | None = None
        self.log = RoundLog()
        self._model: TrainableModel | None = None
        self.app = ClientApp()

        @self.app.train()
        def train(message: Message, context: Context) -> Message:
            return self._train(message, context)

        @self.app.evaluate()
        def evaluate(message: Message, context: Context) -> Message:
            return self._evaluate(message)

    # --- set-up ------------------------------------------------------------------------------
    def attach(self, trainer: Trainer) -> None:
        """Bind key and data; refuses data the model cannot train on, before any round starts."""
        model = self.model()
        data = trainer.data
        shape = tuple(data.x.shape[1:])
        if int(np.prod(shape)) != int(np.prod(model.input_shape)):
            raise DataError(
                f"data in {data.source} has examples of shape {shape}, but the task's model expects "
                f"{tuple(model.input_shape)}"
            )
        if data.y.min() < 0 or data.y.max() >= model.classes:
            raise DataError(f"labels in {data.source} must lie in 0..{model.classes - 1}")
        kind = trainer.fault.partition("@")[0]
        if kind and kind not in FAULTS:
            raise TrainerError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        self.trainer = trainer
        x, y = self._features()
        model.fit(x[:2], y[:2], epochs=1, learning_rate=0.0, seed=0)  # warm up (PyTorch's first step is slow)

    def model(self) -> TrainableModel:
        if self._model is None:
            self._model = self.build_model()
        return self._model

    def _features(self) -> tuple[np.ndarray, np.ndarray]:
        if self.trainer is None:
            raise TrainerError("no trainer attached: run client.py through its command line")
        return self.features(self.trainer.data)

    def features(self, data: LocalData) -> tuple[np.ndarray, np.ndarray]:
        """Inputs as the model sees them (scaled by the task's input_scale), and labels."""
        return (data.x / np.float32(self.settings.input_scale)).astype(np.float32), data.y

    def evaluate_arrays(self, arrays: list[np.ndarray], data: LocalData) -> tuple[float, float]:
        """(loss, accuracy) of a global model on `data`: a keeper's validation set, for instance."""
        model = self.build_model()
        model.set_arrays(arrays)
        return model.evaluate(*self.features(data))

    # --- the ClientApp -----------------------------------------------------------------------
    def _train(self, message: Message, context: Context) -> Message:
        """Train on the local data and reply with the new model, signed; the reply's metrics also say
        how long the message took to arrive, training took, and encoding plus signing took (the
        keeper shows these in its round timing; nothing is paid on them)."""
        received = time.time()
        trainer = self.trainer
        if trainer is None:
            raise TrainerError("no trainer attached")
        names, arrays = from_record(message.content["arrays"])
        model = self.model()
        model.set_arrays(arrays)
        task_round = int(message.content["config"]["server-round"])
        x, y = self._features()
        started = time.perf_counter()
        loss = model.fit(x, y, self.settings.epochs, self.settings.learning_rate, seed=task_round)
        trained = time.perf_counter()
        self.log.note(task_round, train_loss=loss, train_s=trained - started)
        fault = _active_fault(trainer.fault, task_round)
        arrays = _misbehave(fault, model.get_arrays())
        metrics = MetricRecord(
            {
                "num-examples": len(y),
                "train-loss": float(loss),
                "delivery-s": max(0.0, received - message.metadata.created_at),
                "train-s": trained - started,
            }
        )
        reply = RecordDict({"arrays": to_record(names, arrays), "metrics": metrics})
        if fault != "unsigned":
            key = PrivateKey() if fault == "impostor" else trainer.wallet.signer()
            claim = UpdateClaim(
                chain_id=self.settings.chain_id,
                contract=self.settings.contract,
                task_id=trainer.task_id,
                round=task_round,
                node_id=int(context.node_id),
                num_examples=len(y),
                digest=parameters_digest(arrays),
            )
            reply["envelope"] = ConfigRecord(sign_update(key, claim, self.settings.prefix).to_record())
        metrics["sign-s"] = time.perf_counter() - trained
        return Message(content=reply, reply_to=message)

    def _evaluate(self, message: Message) -> Message:
        model = self.model()
        model.set_arrays(from_record(message.content["arrays"])[1])
        x, y = self._features()
        loss, accuracy = model.evaluate(x, y)
        self.log.note(int(message.content["config"]["server-round"]), eval_loss=loss, eval_accuracy=accuracy)
        metrics = MetricRecord({"num-examples": len(y), "eval-loss": loss, "eval-acc": accuracy})
        return Message(content=RecordDict({"metrics": metrics}), reply_to=message)


def _active_fault(fault: str, task_round: int) -> str:
    """`kind` misbehaves every round, `kind@3` only in round 3 (demo and tests only)."""
    kind, _, only_round = fault.partition("@")
    return kind if kind and (not only_round or int(only_round) == task_round) else ""


def _misbehave(kind: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
    if kind == "nan":
        arrays = [a.copy() for a in arrays]
        arrays[0].flat[0] = np.nan
    elif kind == "scale":
        arrays = [a * 1000.0 for a in arrays]
    elif kind == "shape":
        arrays = [arrays[0][:-1], *arrays[1:]]
    return arrays


# --- running a task --------------------------------------------------------------------------
@dataclass(frozen=True)
class RunRequest:
    task_id: int
    data_dir: Path
    key: str | None = None
    key_file: Path | None = None
    keys_dir: Path | None = None
    superlink: str | None = None
    grpc_url: str | None = None
    rpc_url: str | None = None
    fault: str = ""
    connect_timeout: float = 600.0
    poll_interval: float = 0.5


def load_embedded_module(name: str, source: str) -> ModuleType:
    """Run model source embedded in client.py as a module of its own (never as __main__)."""
    module = ModuleType(name)
    module.__file__ = f"<embedded in client.py: {name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - covered by the on-chain hash
    return module


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_wallet(request: RunRequest, prefix: str, allow_dev_accounts: bool) -> LocalWallet:
    if request.key_file is not None:
        return wallet_from_mnemonic(read_mnemonic_file(request.key_file), prefix)
    if request.key:
        folder = request.keys_dir or Path.home() / ".config" / "fedchain" / "keys"
        return KeyStore(folder, prefix, allow_dev_accounts=allow_dev_accounts).wallet(request.key)
    raise KeysError("give --key NAME or --key-file PATH: the key that staked into the task")


def run_task(client: TaskClient, client_file: Path, request: RunRequest, console: Console) -> int:
    """Verify, then serve the task's rounds until the chain shows it finished; returns the claimable amount."""
    from keepers.chain import ChainClient, ChainError  # the one chain client; imported late (heavy)
    from keepers.task_hub import TaskHub

    settings = client.settings
    network = settings.network(request.grpc_url, request.rpc_url)
    hub = TaskHub(ChainClient(network), settings.contract)
    try:
        task = hub.task(request.task_id)
    except ChainError as error:
        if error.kind == ChainError.NODE_DOWN:
            raise
        raise TrainerError(f"task {request.task_id} not found on {settings.chain_id}: {error}") from None
    own = file_sha256(client_file)
    if own != task.client_sha256:
        raise TrainerError(
            f"{client_file.name} (sha256 {own[:16]}…) is not the client registered for task {task.id} "
            f"(sha256 {task.client_sha256[:16]}…): refusing to run it; fetch it again with "
            f"`fedchain trainer join {task.id}`"
        )
    wallet = load_wallet(request, settings.prefix, allow_dev_accounts=settings.chain_id.startswith("fedchain-local"))
    address = str(wallet.address())
    member = hub.participant(task.id, address)
    if member is None:
        raise TrainerError(
            f"{address} has not joined task {task.id}: stake first with `fedchain trainer join {task.id}`"
        )
    if member.slashed:
        raise TrainerError(f"{address} was slashed in task {task.id} ({member.slash_reason}); it cannot train it")
    if task.status not in ("open", "running") or task.rounds_completed >= task.rounds:
        raise TrainerError(f"task {task.id} is {task.status} with {task.rounds_completed}/{task.rounds} rounds done")
    client.attach(Trainer(wallet, task.id, load_folder(request.data_dir), request.fault))
    superlink = request.superlink or settings.superlink
    console.print(
        f"client.py verified against task {task.id} (sha256 {own[:16]}…); training as {address} on "
        f"{len(client.trainer.data)} local examples; keeper {superlink}"  # type: ignore[union-attr]
    )
    supervisor = NodeSupervisor(client, superlink, request.connect_timeout, request.poll_interval)
    return _serve(client, hub, task.id, task.rounds, address, supervisor, console)


def _node_process(
    client: TaskClient, superlink: str, connect_timeout: float, poll_interval: float, reports: Any
) -> None:
    """Child process: serve the task with the (inherited, already verified) ClientApp; report progress.

    SIGINT is ignored here: Flower sends it to its own process when a restarted SuperLink answers 401
    (the node must register again, which the next connection does); the user's Ctrl-C reaches the
    parent, which stops this process.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    client.log.sink = lambda task_round, values: reports.put(("round", task_round, values))
    node = TrainerNode(
        client.app,
        superlink,
        node_config={},
        poll_interval=poll_interval,
        on_connect=lambda node_id: reports.put(("node", node_id)),
    )
    try:
        node.run(threading.Event(), connect_timeout=connect_timeout)
    except ConnectionError as error:
        reports.put(("unreachable", str(error)))
        raise SystemExit(3) from None


class NodeSupervisor:
    """Runs the trainer node in a child process and starts a fresh one if it exits (keeper restarts)."""

    MAX_RESTARTS = 20

    def __init__(self, client: TaskClient, superlink: str, connect_timeout: float, poll_interval: float) -> None:
        self.client = client
        self.superlink = superlink
        self.connect_timeout = connect_timeout
        self.poll_interval = poll_interval
        self.node_id: int | None = None
        self.restarts = 0
        self._context = multiprocessing.get_context("fork")  # the child inherits the verified ClientApp
        self._reports = self._context.SimpleQueue()
        self._process: Any = None

    def start(self) -> None:
        self._process = self._context.Process(
            target=_node_process,
            args=(self.client, self.superlink, self.connect_timeout, self.poll_interval, self._reports),
            name="fedchain-trainer-node",
            daemon=True,
        )
        self._process.start()

    def check(self) -> None:
        """Take the child's reports; restart it if it exited; raise TrainerError if it cannot connect."""
        while not self._reports.empty():
            kind, *payload = self._reports.get()
            if kind == "node":
                self.node_id = payload[0]
            elif kind == "round":
                self.client.log.note(payload[0], **payload[1])
            elif kind == "unreachable":
                raise TrainerError(f"keeper unreachable at {self.superlink}: {payload[0]}")
        if self._process is not None and not self._process.is_alive():
            self.restarts += 1
            if self.restarts > self.MAX_RESTARTS:
                code = self._process.exitcode
                raise TrainerError(f"the trainer node exited {self.restarts} times (last exit code {code})")
            self.start()  # e.g. a restarted keeper no longer knew this node: register again

    def stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()


def _serve(
    client: TaskClient,
    hub: Any,
    task_id: int,
    rounds: int,
    address: str,
    supervisor: NodeSupervisor,
    console: Console,
) -> int:
    supervisor.start()
    done = False
    try:
        with Live(_progress(client, supervisor, rounds, 0), console=console, refresh_per_second=1) as live:
            while not done:
                supervisor.check()
                task = hub.task(task_id)
                done = task.status in ("finalized", "cancelled") or task.rounds_completed >= task.rounds
                live.update(_progress(client, supervisor, rounds, task.rounds_completed))
                if not done:
                    time.sleep(2.0)  # the chain is asked only whether the task is done
        if not console.is_terminal:
            console.line()  # a log file gets the table's last frame without its line end
    finally:
        supervisor.stop()
    deadline = time.monotonic() + 60
    while hub.task(task_id).status != "finalized" and time.monotonic() < deadline:
        time.sleep(1.0)  # the keeper finalizes right after the last attestation
    claimable = hub.claimable(task_id, address)
    console.print(
        f"task {task_id} finished: you can claim {claimable:,} {hub.chain.network.denom} "
        f"with `fedchain trainer claim {task_id} --key <your key>`"
    )
    return claimable


def _progress(client: TaskClient, supervisor: NodeSupervisor, rounds: int, attested: int) -> Table:
    connected = f"node {supervisor.node_id}" if supervisor.node_id is not None else "connecting…"
    table = Table(title=f"training ({connected}; {attested}/{rounds} rounds attested on chain)")
    for column in ("round", "local loss", "train s", "eval accuracy (local)"):
        table.add_column(column, justify="right")
    for number, values in sorted(client.log.rounds.items()):
        table.add_row(
            str(number),
            f"{values['train_loss']:.4f}" if "train_loss" in values else "",
            f"{values['train_s']:.2f}" if "train_s" in values else "",
            f"{values['eval_accuracy']:.3f}" if "eval_accuracy" in values else "",
        )
    return table


def main(client: TaskClient, client_file: str) -> None:
    """The command line of a rendered client.py."""
    _command(client, Path(client_file).resolve())(standalone_mode=True)


def _command(client: TaskClient, client_file: Path) -> click.Command:
    settings = client.settings

    @click.command(help=f"Train task model '{settings.model_name}' on your own data and be paid for it.")
    @click.option("--task", "task_id", type=int, required=True, help="Task id on chain.")
    @click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Your data folder.")
    @click.option("--key", help="Key name (in --keys-dir or the OS keyring).")
    @click.option("--key-file", type=click.Path(path_type=Path), help="File holding your mnemonic (mode 0600).")
    @click.option("--keys-dir", type=click.Path(path_type=Path), help="Folder of named keys.")
    @click.option("--superlink", help=f"Keeper endpoint (default {settings.superlink}).")
    @click.option("--node", "grpc_url", help=f"Chain gRPC endpoint (default {settings.grpc_url}).")
    @click.option("--rpc", "rpc_url", help=f"Chain RPC endpoint (default {settings.rpc_url}).")
    @click.option("--connect-timeout", default=600.0, show_default=True, help="Seconds to wait for the keeper.")
    @click.option(
        "--poll-interval",
        default=0.5,
        show_default=True,
        type=click.FloatRange(0.05, 30),
        help="Seconds between asks for work; raise it when hundreds of trainers share one keeper.",
    )
    @click.option("--fault", default="", hidden=True, help="Misbehave on purpose (demo and tests only).")
    def command(**options: Any) -> None:
        from keepers.chain import ChainError

        console = Console()
        try:
            run_task(client, client_file, RunRequest(**options), console)
        except (TrainerError, DataError, KeysError, ChainError) as error:
            console.print(f"[bold red]error:[/] {error}", highlight=False)
            raise SystemExit(1) from None

    return command
