"""The keeper's Flower ServerApp: run a task's remaining rounds and attest each one on chain.

Started by the SuperLink for a run that the keeper submits (`keepers.runtime.submit_task_run`);
everything task-specific comes from the chain and the run config. It resumes from the last round
recorded on chain (loading that model by CID, verified by sha256), so a keeper killed at any point
and restarted never repeats or skips a round: the contract refuses an out-of-order SubmitRound.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from logging import WARNING
from pathlib import Path

import numpy as np
from flwr.app import ConfigRecord, Context
from flwr.common.logger import log
from flwr.serverapp import Grid, ServerApp

from client_kit.chain import ChainClient
from client_kit.ipfs import MAX_CLIENT_BYTES, IpfsError, KuboStore, fetch_verified
from client_kit.keys import read_mnemonic_file, wallet_from_mnemonic
from client_kit.metrics import TaskMetric
from client_kit.model_format import decode_views, record_of
from client_kit.node_identity import NodeKeyError
from client_kit.task_hub import RoundMetrics, Scoring, SignedClaim, SlashEvidence, Standing, Task, TaskHub
from client_kit.worker import WorkerError
from keepers.admission import NodeDirectory, superlink_key
from keepers.binding import Bindings
from keepers.brisk_grid import BriskGrid
from keepers.contribution.ledger import Ledger
from keepers.contribution.pipeline import (
    ClaimedContribution,
    ContributionPipeline,
    MeasuredContribution,
)
from keepers.events import RoundAttested, RoundTiming, TaskFinalized, TrainerConnected, TrainerSlashed
from keepers.feed import LiveFeed
from keepers.run_config import TaskRunConfig
from keepers.strategy import ChainFedAvg, RoundOutcome
from keepers.validation import Score, Validator, find_validation_set
from keepers.verification import Rejected, UpdateContext

app = ServerApp()
MAX_SCORE_TABLE_BYTES = 16 << 20  # a line per trainer: far below this at the contract's trainer cap


class TaskKeeper:
    """Chain, IPFS and feed side of one task's run."""

    def __init__(self, settings: TaskRunConfig, feed: LiveFeed) -> None:
        self.settings = settings
        self.chain = ChainClient(settings.network)
        self.hub = TaskHub(self.chain, settings.contract)
        self.ipfs = KuboStore(settings.ipfs_api)
        self.wallet = wallet_from_mnemonic(read_mnemonic_file(settings.keeper_key_file), settings.network.bech32_prefix)
        self.feed = feed
        self.task: Task = self.hub.task(settings.task_id)
        self._members: dict[str, bool] = {}  # trainer -> slashed
        self.member_keys()
        self._validator = self._load_validator(settings.validation_dir)
        self.contribution = self._contribution()
        self._inclusion = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attestation")
        self._pending: Future[None] | None = None
        self.bindings = Bindings(self._node_directory(), self.member_keys, self.standing)

    def _node_directory(self) -> NodeDirectory:
        """The SuperLink's own list of which key each node authenticates with."""
        certificate = self.settings.certificate_file
        if not self.settings.superlink_port or certificate is None:
            raise RuntimeError("the run names no SuperLink with node authentication: nodes cannot be bound to trainers")
        return NodeDirectory(self.settings.superlink_port, certificate.read_bytes())

    def member_keys(self) -> dict[bytes, str]:
        """This task's node keys as the SuperLink holds them -> the trainer who named each, read
        from chain now. Standing is updated with it: new members join, and a trainer this run
        slashed stays slashed whatever its attestation's block says yet."""
        keys: dict[bytes, str] = {}
        for member in self.hub.participants(self.settings.task_id):
            self._members[member.trainer] = member.slashed or self._members.get(member.trainer, False)
            if member.node_public_key:
                try:
                    keys[superlink_key(member.node_public_key)] = member.trainer
                except NodeKeyError:
                    continue  # a key that admits nobody (the SuperLink refused it too)
        return keys

    def _load_validator(self, folder: Path | None) -> Validator | None:
        """The task's own client.py (fetched by CID, checked against its sha256 on chain), run in
        its sandboxed worker on the keeper's validation data: each global model is scored exactly
        as trainers' code scores it, and that code never shares a process with the keeper's key.

        A task that pays for measured contribution names its validation set by fingerprint: the
        keeper scores on exactly that set (found under its validation folder) or not at all."""
        if self.task.scoring == Scoring.MEASURED:
            folder = find_validation_set(folder, self.task.validation_sha256 or "")
            if folder is None:
                raise RuntimeError(
                    f"task {self.task.id} pays for measured contribution on the validation set with sha256 "
                    f"{self.task.validation_sha256}, which is not under this keeper's --validation folder"
                )
        if folder is None:
            return None
        source = fetch_verified(self.ipfs, self.task.client_cid, self.task.client_sha256, MAX_CLIENT_BYTES)
        # The keeper's own time limit, never the organization's: a task's round timeout may be a day.
        settings = {"sandbox": self.settings.sandbox, "timeout": self.settings.validation_timeout}
        if self.task.scoring == Scoring.MEASURED:  # no fallback: without its scorer the task cannot pay
            return Validator(source, folder, self.task.metric, **settings)
        try:  # the task's code may fail or hang here: then rounds carry the trainers' figures
            return Validator(source, folder, self.task.metric, **settings)
        except WorkerError as error:
            log(WARNING, "task %s: the task's code cannot score the validation set: %s", self.task.id, error)
            return None

    def _contribution(self) -> ContributionPipeline:
        """The task's scoring method; a measured task continues the smoothed shares where the last
        attested round's score table left them."""
        if self.task.scoring != Scoring.MEASURED or self._validator is None:
            return ClaimedContribution()
        table = None
        last = self.hub.round(self.task.id, self.task.rounds_completed) if self.task.rounds_completed else None
        if last is not None and last.scores_cid:
            try:
                table = json.loads(self.ipfs.cat(last.scores_cid, MAX_SCORE_TABLE_BYTES))
            except (IpfsError, ValueError) as error:
                log(WARNING, "task %s: last round's score table unreadable (%s): shares restart", self.task.id, error)
        return MeasuredContribution(
            self._validator, self.task.validation_sha256 or "", Ledger.restored(table), previous_model=self._previous()
        )

    def _previous(self) -> bytes | None:
        """The global model before the one the run resumes from (the public trajectory's start)."""
        completed = self.task.rounds_completed
        if completed == 0:
            return None
        try:
            return self.model_after(completed - 1)
        except IpfsError as error:
            log(WARNING, "task %s: previous model unavailable (%s): no trajectory this round", self.task.id, error)
            return None

    def validate(self, model: bytes) -> Score | None:
        """The global model's score on the keeper's validation set, if it has one and the task's
        code scored it. That code is the organization's: when it fails or answers out of range the
        round is recorded with the trainers' figures instead, for a failing scorer must not stop the
        run (and cost the keeper its bond)."""
        if self._validator is None:
            return None
        try:
            return self._validator.score(model)
        except WorkerError as error:
            log(WARNING, "task %s: validation failed, recording the trainers' figures: %s", self.task.id, error)
            return None

    def standing(self, address: str) -> Standing:
        """Active (joined, not slashed), slashed, or absent (never joined)."""
        slashed = self._members.get(address)
        return Standing.ABSENT if slashed is None else Standing.SLASHED if slashed else Standing.ACTIVE

    def load_model(self) -> bytes:
        """The model to continue from, as the exact bytes the chain records: the last attested
        round's, else the initial one (trainers check what they receive against the chain)."""
        model = self.model_after(self.task.rounds_completed)
        decode_views(model)  # a checkpoint that is no model stops the run here, not in round 1
        return model

    def model_after(self, round_number: int) -> bytes:
        """The global model the chain records after `round_number` (0: the initial model), fetched
        by CID and checked against its sha256."""
        record = self.hub.round(self.task.id, round_number) if round_number else None
        cid, sha = (
            (record.model_cid, record.model_sha256)
            if record
            else (self.task.initial_model_cid, self.task.initial_model_sha256)
        )
        return fetch_verified(self.ipfs, cid, sha)

    def context(self, task_round: int, names: list[str], arrays: list[np.ndarray], sha256: str) -> UpdateContext:
        return UpdateContext(
            chain_id=self.settings.network.chain_id,
            contract=self.settings.contract,
            task_id=self.task.id,
            round=task_round,
            global_names=names,
            global_arrays=arrays,
            global_sha256=sha256,
            norm_bound=float(self.task.max_update_norm),
            max_examples_per_trainer=self.task.max_examples_per_trainer,
            bech32_prefix=self.settings.network.bech32_prefix,
        )

    def attest(self, outcome: RoundOutcome) -> None:
        """Pin the new global model and the score table, then record the round and slash provable
        misbehaviour on chain.

        SubmitRound and any Slash go out in one transaction, broadcast without waiting for its block:
        the next round trains meanwhile, and its own attestation first confirms this one (the
        contract refuses an out-of-order round, so a failed attestation stops the run, which then
        resumes from the chain).
        """
        self.confirm()
        started = time.perf_counter()
        validation = self.validate(outcome.model)
        validated_at = time.perf_counter()
        pinned = self.ipfs.add(outcome.model, name=f"task{self.task.id}-round{outcome.round}.safetensors")
        scores = self.ipfs.add(
            json.dumps(outcome.scores).encode(), name=f"task{self.task.id}-round{outcome.round}-scores.json"
        )
        pinned_at = time.perf_counter()
        metrics = recorded_metrics(outcome, validation, self.task.metric)
        loss, value = float(metrics.loss), float(metrics.value)
        sender = str(self.wallet.address())
        body = TaskHub.submit_round_body(
            self.task.id, outcome.round, pinned.cid, pinned.sha256, metrics, outcome.credits, scores_cid=scores.cid
        )
        messages = [self.hub.message(sender, body)]
        culprits: dict[str, str] = {}
        for rejection in outcome.rejected:
            trainer = rejection.address
            if rejection.offense is None or trainer is None or trainer in culprits:
                continue
            if self.standing(trainer) != Standing.ACTIVE:
                continue
            evidence = self.evidence(rejection)
            detail = rejection.reason[:200]
            slash = TaskHub.slash_body(self.task.id, outcome.round, trainer, rejection.offense, detail, evidence)
            messages.append(self.hub.message(sender, slash))
            culprits[trainer] = rejection.reason
            self._members[trainer] = True
        tx_hash, fee = self.chain.submit(self.wallet, messages)
        timing = replace(
            outcome.timing or RoundTiming(0.0, 0.0, 0.0, 0.0),
            validate_s=validated_at - started,
            ipfs_s=pinned_at - validated_at,
            tx_s=time.perf_counter() - pinned_at,
        )
        event = RoundAttested(
            task_id=self.task.id,
            round=outcome.round,
            tx_hash=tx_hash,
            model_cid=pinned.cid,
            metric=metrics.metric,
            value=value,
            loss=loss,
            federated_value=outcome.eval_value,
            validation_value=None if validation is None else value,  # what the chain recorded
            accepted=len(outcome.accepted),
            rejected=len(outcome.rejected),
            timing=timing,
        )
        self._pending = self._inclusion.submit(self._included, tx_hash, fee, event, culprits, pinned_at)

    def evidence(self, rejection: Rejected) -> SlashEvidence:
        """The trainer's own signed claim, and the offending update pinned to IPFS (for an
        equivocation, both signed claims as one JSON document), so anyone can re-check the verdict."""
        assert rejection.envelope is not None
        if rejection.conflicting is not None:
            document = [SignedClaim.of(e).wire() for e in (rejection.envelope, rejection.conflicting)]
            pinned = self.ipfs.add(json.dumps(document).encode(), name="equivocation.json")
        else:
            pinned = self.ipfs.add(rejection.update or b"", name=f"task{self.task.id}-offending-update.safetensors")
        conflicting = SignedClaim.of(rejection.conflicting) if rejection.conflicting else None
        return SlashEvidence(SignedClaim.of(rejection.envelope), pinned.cid, conflicting)

    def _included(self, tx_hash: str, fee: int, event: RoundAttested, culprits: dict[str, str], sent_at: float) -> None:
        """Background: wait for the attestation's block, then tell the feed."""
        self.chain.wait_for_tx(tx_hash, fee=fee)
        self.feed.publish(replace(event, timing=replace(event.timing, inclusion_s=time.perf_counter() - sent_at)))
        for trainer, reason in culprits.items():
            self.feed.publish(TrainerSlashed(self.task.id, event.round, trainer, reason, tx_hash))

    def confirm(self) -> None:
        """Wait for the last attestation's block; raises if the chain refused it."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def finalize(self) -> None:
        self.confirm()
        task = self.hub.task(self.task.id)
        if task.status.live and task.rounds_completed == task.rounds:
            result = self.hub.finalize_task(self.wallet, self.task.id)
            self.feed.publish(TaskFinalized(self.task.id, result.hash))

    def close(self) -> None:
        self._inclusion.shutdown(wait=False, cancel_futures=True)
        self.contribution.close()  # first: it may still be using the validator's worker
        if self._validator is not None:
            self._validator.close()

    def active_trainers(self) -> int:
        return sum(1 for slashed in self._members.values() if not slashed)


def recorded_metrics(outcome: RoundOutcome, validation: Score | None, metric: TaskMetric) -> RoundMetrics:
    """The figures a round records on chain: the keeper's own validation when it has one (its data
    outranks what trainers report about theirs), else the trainers' evaluation, else their training
    loss. Bounded, for some of these numbers come from trainers: a wild one must not make the
    attestation fail (and the keeper lose its bond)."""
    if validation is not None:
        return RoundMetrics.bounded(validation.loss, metric, validation.value, validation.examples)
    loss = outcome.eval_loss if outcome.eval_loss is not None else (outcome.train_loss or 0.0)
    value = outcome.eval_value if outcome.eval_value is not None else math.nan  # none: the metric's worst
    return RoundMetrics.bounded(loss, metric, value, outcome.eval_examples)


def wait_for_trainers(grid: Grid, keeper: TaskKeeper, timeout: float) -> int:
    """Bind nodes to staked trainers until every active trainer answers or the window closes;
    returns how many are bound. Nodes nobody staked for are refused and never waited for."""
    deadline = time.monotonic() + timeout
    announced: set[int] = set()
    while True:
        bound = keeper.bindings.wait(grid, keeper.active_trainers(), timeout=min(1.0, timeout))
        for node in bound:
            if node not in announced:
                keeper.feed.publish(TrainerConnected(keeper.task.id, node, keeper.bindings.by_node[node]))
                announced.add(node)
        if len(bound) >= keeper.active_trainers() or time.monotonic() >= deadline:
            return len(bound)


@app.main()
def main(grid: Grid, context: Context) -> None:
    settings = TaskRunConfig.from_run_config(context.run_config)
    grid = BriskGrid(grid)
    feed = LiveFeed(port=settings.feed_port, origins=settings.feed_origins)
    try:
        feed.start()
    except (OSError, RuntimeError) as error:  # attestation matters more than the live view
        log(WARNING, "live feed unavailable on 127.0.0.1:%s (%s); continuing without it", settings.feed_port, error)
    keeper: TaskKeeper | None = None
    try:
        keeper = TaskKeeper(settings, feed)
        task = keeper.task
        remaining = task.rounds - task.rounds_completed
        if remaining > 0:
            model = keeper.load_model()
            if wait_for_trainers(grid, keeper, settings.connect_timeout) == 0:
                # No trainer came: the rounds still run (each waits a round's timeout for one), and
                # those nobody trains are attested empty. A task filled with addresses that never
                # connect then ends with nothing paid and nothing forfeited, rather than with the
                # keeper's bond handed to whoever filled it.
                log(WARNING, "task %s: no staked trainer connected within %.0f s", task.id, settings.connect_timeout)
            strategy = ChainFedAvg(
                bindings=keeper.bindings,
                context_for_round=keeper.context,
                standing=keeper.standing,
                on_round=keeper.attest,
                on_event=feed.publish,
                task_id=task.id,
                round_offset=task.rounds_completed,
                federated_evaluation=settings.federated_evaluation,
                idle_wait_s=float(task.round_timeout_secs),
                contribution=keeper.contribution,
                metric=task.metric,
            )
            strategy.start(
                grid=grid,
                initial_arrays=record_of(model),
                num_rounds=remaining,
                timeout=float(task.round_timeout_secs),  # a trainer that never answers is a no-show, not a stall
                train_config=ConfigRecord({"task-id": task.id}),
            )
        keeper.finalize()
    finally:
        if keeper is not None:
            keeper.close()
        feed.stop()
