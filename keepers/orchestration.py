"""Running one task end to end on a localnet, for the demo, the benchmarks and the tests.

`publish_task` is the organization's side (pin client.py and the initial model, fund the task,
which names a registered keeper); `accept_task` is the keeper's consent (it bonds what the task
asks); `ServedTask` is the keeper serving that one task in a background thread, with a follower
of its live feed. Trainers are whatever the caller starts: client.py processes
in the demo, in-process nodes in the scale benchmark.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from types import TracebackType

from cosmpy.aerial.wallet import LocalWallet

from client_kit.builder import BuiltClient
from client_kit.chain import ChainClient
from client_kit.ipfs import ContentStore, Pinned
from client_kit.node_identity import claim_for
from client_kit.settings import settings_from_source
from client_kit.task_hub import Scoring, TaskHub, TaskSpec
from keepers.feed import FeedFollower
from keepers.service import KeeperService, KeeperSettings
from keepers.task_request import DEFAULT_MAX_UPDATE_NORM


@dataclass(frozen=True)
class TaskTerms:
    """What an organization offers: the task's shape, money and deadlines (relative to chain time)."""

    model_name: str
    description: str
    rounds: int
    min_trainers: int
    max_trainers: int
    stake: int
    pool: int
    join_window_s: int = 300
    training_window_s: int = 1800
    no_show_penalty_bps: int = 1000
    slash_bps: int = 5000
    keeper_bond: int = 0  # 0: a tenth of the pool
    max_examples_per_trainer: int = 1000
    max_update_norm: Decimal = DEFAULT_MAX_UPDATE_NORM
    round_timeout_s: int = 120
    scoring: Scoring = Scoring.CLAIMED_EXAMPLES
    validation_sha256: str | None = None  # the organization's validation set, for measured scoring

    @property
    def bond(self) -> int:
        return self.keeper_bond or max(1, self.pool // 10)


@dataclass(frozen=True)
class PublishedTask:
    task_id: int
    client: Pinned  # client.py on IPFS
    initial_model: Pinned
    gas_fees: int  # what the organization paid in fees to register and create it


def publish_task(
    hub: TaskHub,
    store: ContentStore,
    organization: LocalWallet,
    keeper: str,
    built: BuiltClient,
    terms: TaskTerms,
    organization_name: str = "Acme Health",
) -> PublishedTask:
    """Pin client.py and its initial model, register the organization, and fund the task."""
    initial = store.add(built.initial_model(), "initial.safetensors")
    client = store.add(built.source, "client.py")
    fees = hub.register(organization, organization_name, organization=True).fee
    profile = hub.profile(keeper)
    keeper_fee_bps = profile.keeper.fee_bps if profile and profile.keeper else 0
    now = int(hub.chain.block_time())
    spec = TaskSpec(
        model_name=terms.model_name,
        description=terms.description,
        client_cid=client.cid,
        client_sha256=client.sha256,
        initial_model_cid=initial.cid,
        initial_model_sha256=initial.sha256,
        rounds=terms.rounds,
        min_trainers=terms.min_trainers,
        max_trainers=terms.max_trainers,
        stake=terms.stake,
        join_deadline=now + terms.join_window_s,
        training_deadline=now + terms.training_window_s,
        keeper=keeper,
        keeper_bond=terms.bond,
        max_keeper_fee_bps=keeper_fee_bps,
        no_show_penalty_bps=terms.no_show_penalty_bps,
        slash_bps=terms.slash_bps,
        max_examples_per_trainer=terms.max_examples_per_trainer,
        max_update_norm=terms.max_update_norm,
        round_timeout_secs=terms.round_timeout_s,
        scoring=terms.scoring,
        validation_sha256=terms.validation_sha256,
        metric=settings_from_source(built.source).metric,  # what client.py reports, named on chain
    )
    task_id, created = hub.create_task(organization, spec, terms.pool, hub.chain.network.denom)
    return PublishedTask(task_id, client, initial, fees + created.fee)


def register_keeper(hub: TaskHub, keeper: LocalWallet, endpoint: str, name: str = "Keeper") -> int:
    """Register (or update) the keeper's profile with its trainer-facing endpoint; returns the fee paid."""
    return hub.register_keeper(keeper, name, endpoint).fee


def join_task(hub: TaskHub, trainer: LocalWallet, task_id: int, stake: int) -> int:
    """Stake `trainer` into the task, naming its node key for the task (as `fedchain trainer join`
    does); returns the fee paid."""
    node_key = claim_for(trainer, hub.chain.network.chain_id, hub.contract, task_id)
    return hub.join_task(trainer, task_id, stake, hub.chain.network.denom, node_key).fee


def accept_task(hub: TaskHub, keeper: LocalWallet, task_id: int) -> int:
    """The keeper's consent: bond what the task asks; returns the fee paid."""
    task = hub.task(task_id)
    return hub.accept_task(keeper, task_id, task.keeper_bond, task.denom).fee


class ServedTask:
    """A keeper service serving exactly one task in a background thread, its live feed followed.

    Use as a context manager: entering starts the follower and the service, leaving stops the
    service (and the SuperLink with it).
    """

    def __init__(
        self, chain: ChainClient, hub: TaskHub, keeper: LocalWallet, settings: KeeperSettings, task_id: int
    ) -> None:
        settings = replace(settings, only_tasks=frozenset({task_id}))  # the keeper may name other tasks too
        self.service = KeeperService(chain, hub, keeper, settings, report=lambda line: None)
        self.follower = FeedFollower(settings.feed_port, task_id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.service.run, args=(self._stop,), daemon=True)

    def __enter__(self) -> ServedTask:
        self.follower.start()
        self._thread.start()
        return self

    def wait(self, timeout: float, on_tick: Callable[[], None] = lambda: None, tick: float = 0.5) -> bool:
        """Wait until the task is finalized (True), the keeper stops, or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while not self.follower.finished.wait(tick):
            on_tick()
            if not self._thread.is_alive() or time.monotonic() >= deadline:
                return False
        on_tick()
        return True

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self._thread.is_alive():  # still serving a run (which checks no stop flag): end it here
            self.service.close()
            self._thread.join(timeout=30)
