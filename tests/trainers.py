"""Test helpers: render a real client.py for a task, fund the task, and run trainers as processes."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import numpy as np
from sklearn.datasets import load_digits

from chain_config import LocalnetConfig
from client_kit.builder import BuiltClient, ModelSpec, build_client
from client_kit.chain import ChainClient
from client_kit.ipfs import KuboStore
from client_kit.settings import ClientSettings
from client_kit.task_hub import Scoring, TaskHub
from keepers.orchestration import TaskTerms, accept_task, join_task, publish_task, register_keeper
from keepers.run_config import TaskRunConfig
from keepers.runtime import start_task_run, start_trainer, submit_task_run
from keepers.service import KeeperService, KeeperSettings
from localnet.processes import ManagedProcess, free_port
from tests.conftest import dev_wallet

DIGITS_MLP = Path(__file__).resolve().parent.parent / "keepers" / "examples" / "digits_mlp.py"
DIGITS_CNN = Path(__file__).resolve().parent.parent / "examples" / "image_cnn" / "model.py"


def keeper_run_config(config: LocalnetConfig, contract: str, task_id: int, keeper_key: Path) -> TaskRunConfig:
    """The run config the keeper service would submit for this task."""
    return TaskRunConfig(
        task_id=task_id,
        network=config.network(),
        contract=contract,
        keeper_key_file=keeper_key,
        ipfs_api=config.kubo_api_url,
        connect_timeout=60.0,
        feed_port=free_port(),
    )


class KeeperUnderTest:
    """The keeper's side as its service runs it, with the task's runs submitted by the test: a TLS
    SuperLink with node authentication, the endpoint and certificate published in the keeper's
    profile, and the task's staked trainers admitted (kept in step while the test runs)."""

    def __init__(
        self, chain: ChainClient, hub: TaskHub, config: LocalnetConfig, task_id: int, workdir: Path, port: int
    ) -> None:
        settings = KeeperSettings(
            superlink_port=port,
            workdir=workdir,
            keeper_key_file=key_file(config, "keeper", workdir / "keys"),
            ipfs_api=config.kubo_api_url,
            poll_seconds=0.5,
            only_tasks=frozenset({task_id}),
        )
        self.reports: list[str] = []
        self.service = KeeperService(chain, hub, dev_wallet(config, "keeper"), settings, self.reports.append)
        self.port, self.workdir = port, workdir
        self._stack = ExitStack()

    @property
    def certificate_sha256(self) -> str:
        return self.service.link.certificate.sha256

    def __enter__(self) -> KeeperUnderTest:
        self.service.publish_endpoint()
        self.restart()
        self._stack.enter_context(self.service.admitting())
        return self

    def restart(self) -> None:
        """Stop the SuperLink (and a run with it) if it runs, then start it and admit the trainers."""
        self.service.link.stop()
        self.service.link.ensure_running()
        self.service.admit_trainers()

    def submit(self, run: TaskRunConfig) -> int:
        return submit_task_run(self.port, self.workdir, run, certificate=self.service.link.certificate)

    def start(self, run: TaskRunConfig) -> int:
        """Start a run without waiting for it; returns its run id."""
        return start_task_run(self.port, self.workdir, run, self.service.link.certificate)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.close()
        self.service.close()


def key_file(config: LocalnetConfig, name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.mnemonic"
    path.write_text(config.dev_account(name).mnemonic + "\n")
    path.chmod(0o600)
    return path


def render_digits_client(
    config: LocalnetConfig, contract: str, folder: Path, model: str = "softmax", **training: float
) -> tuple[Path, BuiltClient]:
    """A client.py for 8x8 digits (pixels 0..16), written to `folder/client.py`: softmax (NumPy),
    torch (an MLP) or cnn (a CNN with BatchNorm, images of 1×8×8)."""
    settings = ClientSettings.for_network(
        config.network(),
        contract,
        model_name="digits",
        input_shape=(1, 8, 8) if model == "cnn" else (64,),
        classes=10,
        input_scale=16.0,
        **{"epochs": 5, "learning_rate": 0.5, **training},  # type: ignore[arg-type]
    )
    references = {"torch": (f"{DIGITS_MLP}:DigitsMLP", {"hidden": 32}), "cnn": (f"{DIGITS_CNN}:DigitsCNN", {})}
    reference, args = references.get(model, (model, {}))
    spec = ModelSpec.parse(reference, args)
    built = build_client(settings, spec)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "client.py"
    path.write_bytes(built.source)
    return path, built


def create_task(
    chain: ChainClient,
    hub: TaskHub,
    kubo: KuboStore,
    config: LocalnetConfig,
    built: BuiltClient,
    trainers: list[str],
    rounds: int,
    stake: int = 1_000_000,
    pool: int = 30_000_000,
    max_examples: int = 1000,
    round_timeout_s: int = 120,
    scoring: Scoring = Scoring.CLAIMED_EXAMPLES,
    validation_sha256: str | None = None,
) -> int:
    """Pin client.py and its initial model, create the task, and stake every named trainer into it."""
    org, keeper = dev_wallet(config, "organization"), dev_wallet(config, "keeper")
    register_keeper(hub, keeper, "127.0.0.1:9092")  # KeeperUnderTest publishes its own endpoint and certificate
    terms = TaskTerms(
        "digits", "keeper e2e", rounds, len(trainers), len(trainers), stake, pool, 600, 3600,
        max_examples_per_trainer=max_examples, round_timeout_s=round_timeout_s,
        scoring=scoring, validation_sha256=validation_sha256,
    )  # fmt: skip
    task_id = publish_task(hub, kubo, org, str(keeper.address()), built, terms).task_id
    accept_task(hub, keeper, task_id)
    for name in trainers:
        wallet = dev_wallet(config, name)
        hub.register(wallet, name, trainer=True)
        join_task(hub, wallet, task_id, stake)
    return task_id


def write_digits_shards(config: LocalnetConfig, names: list[str], folder: Path, per_trainer: int = 400) -> None:
    """Disjoint digits shards as each trainer's private data folder, plus its key file."""
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    for i, name in enumerate(names):
        part = order[i :: len(names)][:per_trainer]
        data = folder / name / "data"
        data.mkdir(parents=True)
        np.savez(data / "data.npz", x=digits.data[part], y=digits.target[part])
        key_file(config, name, folder / name)


def start_trainers(
    config: LocalnetConfig,
    client_file: Path,
    contract: str,
    task_id: int,
    names: list[str],
    folder: Path,
    faults: dict[str, str] | None = None,
) -> list[ManagedProcess]:
    """Each named trainer as `fedchain trainer train` runs it; they connect where the keeper's
    profile says, once it is published."""
    return [
        start_trainer(
            client_file,
            task_id,
            folder / name / "data",
            folder / name / f"{name}.mnemonic",
            folder / f"{name}.log",
            network=config.network(),
            contract=contract,
            fault=(faults or {}).get(name, ""),
        )
        for name in names
    ]
