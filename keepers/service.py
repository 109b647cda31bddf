"""The keeper service: follow the chain for this keeper's tasks and serve each when it is ready.

A proposed task is accepted (bonding what it asks) only under the operator's policy: by hand with
`fedchain keeper accept`, or automatically up to a bond the operator chose. An accepted task is
served once its join deadline passed with at least its minimum of trainers, or as soon as it is
full; a task that never started, or whose training deadline plus grace passed, is finalized so
nothing stays locked. Serving runs the task's remaining rounds on the keeper's SuperLink; a
restarted service picks up where the chain says the task is. Every task naming this keeper is
read, page after page: junk tasks cannot hide a real one.

Trainers meet the keeper through its link (`keepers.link`): TLS with the keeper's certificate,
whose fingerprint and endpoint the service publishes in the keeper's profile when it starts (so a
new certificate or address reaches trainers through the chain), and node authentication that admits
exactly the node keys the live tasks' joined, unslashed trainers named on chain, kept in step while
a run goes on.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cosmpy.aerial.wallet import LocalWallet

from client_kit.chain import ChainClient, ChainError
from client_kit.ipfs import KuboStore
from client_kit.task_hub import Task, TaskHub, TaskStatus
from keepers.acceptance import DEFAULT_MAX_ROUND_TIMEOUT_S, undeliverable
from keepers.admission import staked_node_keys
from keepers.feed import WEB_APP_ORIGINS
from keepers.link import KeeperLink
from keepers.run_config import TaskRunConfig
from keepers.runtime import submit_task_run


@dataclass(frozen=True)
class KeeperSettings:
    superlink_port: int
    workdir: Path
    keeper_key_file: Path
    ipfs_api: str
    feed_port: int = 8765
    connect_timeout: float = 60.0
    poll_seconds: float = 2.0
    validation_dir: Path | None = None  # labelled data of the keeper's own, to score every global model
    federated_evaluation: bool = True
    only_tasks: frozenset[int] | None = None  # serve just these task ids (None: every task naming this keeper)
    feed_origins: tuple[str, ...] = WEB_APP_ORIGINS  # web pages allowed to read the live feed
    accept_bond_up_to: int = 0  # accept proposed tasks by itself when their bond is at most this (0: never)
    max_round_timeout_s: int = DEFAULT_MAX_ROUND_TIMEOUT_S  # refuse tasks whose rounds may wait longer
    validation_timeout_s: float = 60.0  # how long the task's code may take to score one global model
    sandbox: bool = True  # the task's code, validating, runs confined (bubblewrap)
    public_endpoint: str | None = None  # host:port of the gateway trainers on other machines reach (None: loopback)


class KeeperAction(StrEnum):
    """What the keeper should do with one of its tasks right now."""

    ACCEPT = "accept"  # consent and bond (only under the operator's policy)
    SERVE = "serve"  # run its remaining rounds
    FINALIZE = "finalize"  # settle it: all rounds done, never started, or past its deadline and grace
    WAIT = "wait"  # nothing yet (or nothing any more)


def readiness(task: Task, now: float, accept_bond_up_to: int = 0) -> KeeperAction:
    """What the keeper should do with `task` at chain time `now`."""
    if task.status == TaskStatus.PROPOSED:
        if now >= task.join_deadline:
            return KeeperAction.FINALIZE  # never accepted: the pool goes back
        return KeeperAction.ACCEPT if 0 < task.keeper_bond <= accept_bond_up_to else KeeperAction.WAIT
    if not task.status.live:
        return KeeperAction.WAIT
    if task.rounds_completed >= task.rounds:
        return KeeperAction.FINALIZE
    if now >= task.join_deadline and task.participants < task.min_trainers and task.rounds_completed == 0:
        return KeeperAction.FINALIZE  # never started: everything goes back
    if now >= task.training_deadline:  # past training: anyone settles it once the grace period is over
        return KeeperAction.FINALIZE if now >= task.training_deadline + task.grace_period_secs else KeeperAction.WAIT
    full = task.participants >= task.max_trainers
    if task.participants >= task.min_trainers and (full or now >= task.join_deadline):
        return KeeperAction.SERVE
    return KeeperAction.WAIT


class KeeperService:
    def __init__(
        self,
        chain: ChainClient,
        hub: TaskHub,
        wallet: LocalWallet,
        settings: KeeperSettings,
        report: Callable[[str], None] = print,
    ) -> None:
        self.chain = chain
        self.hub = hub
        self.wallet = wallet
        self.settings = settings
        self.report = report
        self.address = str(wallet.address())
        self.link = KeeperLink(settings.superlink_port, settings.workdir, settings.public_endpoint)
        self._refused: set[int] = set()  # proposed tasks this keeper cannot deliver
        self._published = False

    @property
    def superlink_pid(self) -> int | None:
        """The running SuperLink's process id (its ServerApp runs among its descendants)."""
        return self.link.superlink_pid

    def publish_endpoint(self) -> None:
        """Make the keeper's profile name this link's endpoint and certificate (re-registering with
        the same name and fee when either changed), so trainers connect here and nowhere else."""
        profile = self.hub.profile(self.address)
        if profile is None or profile.keeper is None:
            raise RuntimeError(f"{self.address} is not a registered keeper: run `fedchain keeper register` first")
        endpoint = self.link.endpoint
        if (profile.keeper.endpoint, profile.keeper.tls_cert_sha256) != (endpoint.address, endpoint.tls_cert_sha256):
            result = self.hub.register_keeper(
                self.wallet, profile.name, endpoint.address, profile.keeper.fee_bps, endpoint.tls_cert_sha256
            )
            self.report(
                f"published endpoint {endpoint.address}, TLS certificate sha256 {endpoint.tls_cert_sha256} "
                f"(tx {result.hash})"
            )
        self._published = True

    def admit_trainers(self, tasks: list[Task] | None = None) -> None:
        """Admit exactly the node keys the live tasks' joined, unslashed trainers named on chain."""
        if tasks is None:
            tasks = self.hub.tasks(keeper=self.address)
        served = [t for t in tasks if t.status.live and self._selected(t)]
        change = self.link.admit(staked_node_keys(self.hub, served))
        for trainer in change.admitted:
            self.report(f"admitted the node of {trainer}")
        for trainer in change.dismissed:
            self.report(f"no longer admits the node of {trainer}")
        for refusal in change.refused:
            self.report(f"node key refused: {refusal}")

    def _selected(self, task: Task) -> bool:
        return self.settings.only_tasks is None or task.id in self.settings.only_tasks

    def run_config(self, task: Task) -> TaskRunConfig:
        return TaskRunConfig(
            task_id=task.id,
            network=self.chain.network,
            contract=self.hub.contract,
            keeper_key_file=self.settings.keeper_key_file,
            ipfs_api=self.settings.ipfs_api,
            connect_timeout=self.settings.connect_timeout,
            feed_port=self.settings.feed_port,
            validation_dir=self.settings.validation_dir,
            federated_evaluation=self.settings.federated_evaluation,
            feed_origins=self.settings.feed_origins,
            sandbox=self.settings.sandbox,
            validation_timeout=self.settings.validation_timeout_s,
        )

    def step(self) -> list[tuple[int, KeeperAction]]:
        """One pass over every live task naming this keeper, the earliest training deadline first
        (runs are served one at a time); returns what was done to which task. A task whose handling
        fails is reported and left for the next pass: it never stops the service for the others."""
        done = []
        if not self._published:
            self.publish_endpoint()
        now = self.chain.block_time()
        tasks = sorted(self.hub.tasks(keeper=self.address), key=lambda t: (t.training_deadline, t.id))
        if any(task.status.live and self._selected(task) for task in tasks):
            try:
                self.link.ensure_running()  # trainers connect as soon as they joined
                self.admit_trainers(tasks)
            except ChainError:
                raise
            except Exception as error:  # the SuperLink hiccuped: reported, the next pass retries
                self.report(f"admission failed: {type(error).__name__}: {error}")
        for task in tasks:
            if not self._selected(task):
                continue
            action = readiness(task, now, self.settings.accept_bond_up_to)
            try:
                if action == KeeperAction.ACCEPT:
                    self.accept(task)
                elif action == KeeperAction.SERVE:
                    self.serve(task)
                elif action == KeeperAction.FINALIZE:
                    self.finalize(task)
            except ChainError:
                raise  # the chain itself is unavailable: the whole pass waits
            except Exception as error:  # one task's failure is that task's, reported, not the service's
                self.report(f"task {task.id}: {action} failed: {type(error).__name__}: {error}")
            if action != KeeperAction.WAIT:
                done.append((task.id, action))
        return done

    def accept(self, task: Task) -> None:
        """Bond the task, unless the keeper could not deliver it (then its bond would only go to
        the organization)."""
        if task.id in self._refused:
            return
        reason = undeliverable(
            task, KuboStore(self.settings.ipfs_api), self.settings.max_round_timeout_s, self.settings.validation_dir
        )
        if reason is not None:
            self._refused.add(task.id)  # checked once: its terms and files never change
            self.report(f"task {task.id} not accepted: {reason}")
            return
        try:
            result = self.hub.accept_task(self.wallet, task.id, task.keeper_bond, task.denom)
            self.report(f"accepted task {task.id}, bonded {task.keeper_bond:,} {task.denom} (tx {result.hash})")
        except ChainError as error:
            self.report(f"task {task.id} not accepted: {error}")

    def serve(self, task: Task) -> None:
        self.link.ensure_running()
        self.report(
            f"serving task {task.id} ({task.participants} trainers, rounds {task.rounds_completed + 1}-"
            f"{task.rounds}); live feed ws://127.0.0.1:{self.settings.feed_port}"
        )
        # No run outlives the task: after its training deadline and grace nothing can be attested.
        remaining = task.training_deadline + task.grace_period_secs - self.chain.block_time()
        try:
            with self.admitting():
                code = submit_task_run(
                    self.settings.superlink_port,
                    self.settings.workdir,
                    self.run_config(task),
                    timeout=max(60.0, remaining),
                    certificate=self.link.certificate,
                )
        except subprocess.TimeoutExpired:
            self.report(f"run for task {task.id} stopped: its training deadline and grace have passed")
            return
        if code != 0:
            self.report(f"run for task {task.id} ended with code {code}; log: {self.settings.workdir / 'runs.log'}")

    @contextmanager
    def admitting(self) -> Iterator[None]:
        """Keep admissions in step with the chain while a run blocks this thread (a trainer slashed
        mid-run is dismissed; trainers of other tasks are admitted as they join)."""
        stop = threading.Event()

        def follow() -> None:
            while not stop.wait(self.settings.poll_seconds):
                try:
                    self.admit_trainers()
                except Exception as error:  # the chain or SuperLink hiccuped: the next pass retries
                    self.report(f"admission check failed: {type(error).__name__}: {error}")

        thread = threading.Thread(target=follow, name="keeper-admission", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)

    def finalize(self, task: Task) -> None:
        try:
            result = self.hub.finalize_task(self.wallet, task.id)
            self.report(f"finalized task {task.id} (tx {result.hash})")
        except ChainError as error:
            self.report(f"task {task.id} not finalized yet: {error}")

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.step()
                except ChainError as error:
                    self.report(f"chain unavailable, retrying: {error}")
                stop.wait(self.settings.poll_seconds)
        finally:
            self.close()

    def close(self) -> None:
        self.link.stop()
