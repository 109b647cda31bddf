"""The one chain client: every transaction and query fedchain sends goes through here.

It wraps cosmpy's gRPC LedgerClient with what services need and cosmpy leaves out: exact fees
per transaction, wasm events kept as an ordered list (cosmpy merges same-type events), sequence
tracking with a retry on mismatch, and errors that say in plain words what went wrong.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import grpc
import httpx
from cosmpy.aerial.client import LedgerClient
from cosmpy.aerial.client import NetworkConfig as CosmpyNetwork
from cosmpy.aerial.client.utils import prepare_basic_transaction
from cosmpy.aerial.contract.cosmwasm import (
    create_cosmwasm_execute_msg,
    create_cosmwasm_instantiate_msg,
    create_cosmwasm_store_code_msg,
)
from cosmpy.aerial.tx import SigningCfg, Transaction, TxFee
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin as CoinProto
from cosmpy.protos.cosmos.tx.v1beta1.service_pb2 import BroadcastMode, BroadcastTxRequest, GetTxRequest
from cosmpy.protos.cosmwasm.wasm.v1.query_pb2 import QueryContractInfoRequest, QuerySmartContractStateRequest

from chain_config import Network


class ChainErrorKind(StrEnum):
    """Why a chain operation failed, for callers that branch on it."""

    NODE_DOWN = "node_down"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    OUT_OF_GAS = "out_of_gas"
    SEQUENCE = "sequence_mismatch"
    CONTRACT = "contract_error"
    TX_FAILED = "tx_failed"
    TIMEOUT = "timeout"
    NOT_FOUND = "not_found"


class ChainError(RuntimeError):
    """A chain operation failed; the message says what went wrong in plain words."""

    def __init__(self, kind: ChainErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Event:
    type: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class ContractEvent:
    """One `wasm` event of a contract, as a watcher sees it."""

    height: int
    tx_hash: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class TxResult:
    """An included, successful transaction."""

    hash: str
    height: int
    gas_used: int
    gas_wanted: int
    fee: int
    events: list[Event] = field(default_factory=list)

    def wasm_attributes(self) -> list[dict[str, str]]:
        """The attributes of each `wasm` event, in order (one per contract call)."""
        return [e.attributes for e in self.events if e.type == "wasm"]

    def attribute(self, event_type: str, key: str) -> str:
        for event in self.events:
            if event.type == event_type and key in event.attributes:
                return event.attributes[key]
        raise KeyError(f"no {event_type}.{key} in tx {self.hash}")


class ChainClient:
    """Sends signed transactions to one network and reads its state."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._ledger = LedgerClient(
            CosmpyNetwork(
                chain_id=network.chain_id,
                url=network.grpc_url,
                fee_minimum_gas_price=float(network.gas_price),
                fee_denomination=network.denom,
                staking_denomination=network.denom,
            )
        )
        self._accounts: dict[str, Any] = {}
        self._lock = threading.RLock()

    # --- queries -------------------------------------------------------------------------
    def balance(self, address: str, denom: str | None = None) -> int:
        return self._guard(lambda: self._ledger.query_bank_balance(address, denom or self.network.denom))

    def node_chain_id(self) -> str:
        """The chain id the node itself reports (not the one configured for it)."""
        return str(self._rpc("status")["node_info"]["network"])

    def height(self) -> int:
        return self._guard(self._ledger.query_height)

    def block_time(self) -> float:
        """Unix time of the latest block: deadlines on chain are judged against this, not our clock."""
        status = self._rpc("status")
        stamp = status["sync_info"]["latest_block_time"]
        return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()

    def query_contract(self, contract: str, message: dict[str, Any]) -> Any:
        request = QuerySmartContractStateRequest(address=contract, query_data=json.dumps(message).encode())

        def run() -> Any:
            return json.loads(self._ledger.wasm.SmartContractState(request).data)

        return self._guard(run)

    def contract_admin(self, contract: str) -> str:
        """Who may migrate the contract (its chain-level admin), or "" when nobody can.

        Read through the RPC's ABCI query and decoded by field number: cosmpy's generated
        `ContractInfo` predates wasmd 0.70's field layout and refuses the gRPC answer."""
        request = QueryContractInfoRequest(address=contract).SerializeToString()
        answer = self._rpc(
            "abci_query", {"path": '"/cosmwasm.wasm.v1.Query/ContractInfo"', "data": "0x" + request.hex()}
        )
        response = answer["response"]
        if response.get("code"):
            raise ChainError(ChainErrorKind.NOT_FOUND, f"no contract {contract}: {response.get('log', '')}")
        info = _length_delimited(
            base64.b64decode(response.get("value") or ""), 2
        )  # QueryContractInfoResponse.contract_info
        return _length_delimited(info, 3).decode()  # ContractInfo.admin

    def contract_events(self, contract: str, from_height: int, per_page: int = 100) -> list[ContractEvent]:
        """Every wasm event the contract emitted from `from_height` on, oldest first (CometBFT tx_search)."""
        query = f"wasm._contract_address='{contract}' AND tx.height>={from_height}"
        found: list[ContractEvent] = []
        page = 1
        while True:
            result = self._rpc(
                "tx_search", {"query": f'"{query}"', "order_by": '"asc"', "page": str(page), "per_page": str(per_page)}
            )
            for tx in result["txs"]:
                for event in tx["tx_result"].get("events", []):
                    attributes = {_text(a["key"]): _text(a.get("value", "")) for a in event["attributes"]}
                    if event["type"] == "wasm" and attributes.get("_contract_address") == contract:
                        found.append(ContractEvent(int(tx["height"]), tx["hash"], attributes))
            if page * per_page >= int(result["total_count"]):
                return found
            page += 1

    # --- transactions --------------------------------------------------------------------
    def send(self, wallet: LocalWallet, to: str, amount: int, denom: str | None = None) -> TxResult:
        message = MsgSend(
            from_address=str(wallet.address()),
            to_address=to,
            amount=[CoinProto(amount=str(amount), denom=denom or self.network.denom)],
        )
        return self.broadcast(wallet, [message])

    def store_code(self, wallet: LocalWallet, wasm: Path) -> tuple[int, TxResult]:
        if not wasm.exists():
            raise ChainError(ChainErrorKind.NOT_FOUND, f"contract file {wasm} does not exist")
        result = self.broadcast(wallet, [create_cosmwasm_store_code_msg(str(wasm), wallet.address())])
        return int(result.attribute("store_code", "code_id")), result

    def instantiate(
        self, wallet: LocalWallet, code_id: int, message: dict[str, Any], label: str, admin: str | None = None
    ) -> tuple[str, TxResult]:
        msg = create_cosmwasm_instantiate_msg(code_id, message, label, wallet.address(), admin_address=admin)
        result = self.broadcast(wallet, [msg])
        return result.attribute("instantiate", "_contract_address"), result

    def execute(
        self, wallet: LocalWallet, contract: str, message: dict[str, Any], funds: str | None = None
    ) -> TxResult:
        return self.broadcast(wallet, [create_cosmwasm_execute_msg(wallet.address(), contract, message, funds)])

    def broadcast(self, wallet: LocalWallet, messages: list[Any], memo: str = "", attempts: int = 3) -> TxResult:
        """Simulate, sign, broadcast and wait for inclusion; retries once the sequence is stale."""
        for attempt in range(1, attempts + 1):
            try:
                with self._lock:  # one signer's sequence numbers must not interleave
                    return self._broadcast_once(wallet, messages, memo)
            except ChainError as error:
                self._accounts.pop(str(wallet.address()), None)
                if error.kind != ChainErrorKind.SEQUENCE or attempt == attempts:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _broadcast_once(self, wallet: LocalWallet, messages: list[Any], memo: str) -> TxResult:
        tx_hash, fee = self._submit(wallet, messages, memo)
        return self.wait_for_tx(tx_hash, fee=fee)

    def simulate(self, wallet: LocalWallet, messages: list[Any]) -> int:
        """The gas `messages` would use in one transaction, by simulation: nothing is broadcast."""
        with self._lock:
            address = str(wallet.address())
            account = self._accounts.get(address) or self._guard(lambda: self._ledger.query_account(wallet.address()))
            tx = Transaction()
            for message in messages:
                tx.add_message(message)
            sealed = _sealed_for_simulation(tx, wallet, account, self.network.chain_id)
            return int(self._guard(lambda: self._ledger.simulate_tx(sealed)))

    def submit(self, wallet: LocalWallet, messages: list[Any], memo: str = "") -> tuple[str, int]:
        """Sign and broadcast without waiting for inclusion: (tx hash, fee). For many-account batches."""
        with self._lock:
            try:
                return self._submit(wallet, messages, memo)
            except ChainError:
                self._accounts.pop(str(wallet.address()), None)
                raise

    def _submit(self, wallet: LocalWallet, messages: list[Any], memo: str) -> tuple[str, int]:
        address = str(wallet.address())
        account = self._accounts.get(address) or self._guard(lambda: self._ledger.query_account(wallet.address()))
        tx = Transaction()
        for message in messages:
            tx.add_message(message)
        fee = TxFee()
        prepared = self._guard(lambda: self._prepare(tx, wallet, account, fee, memo))
        request = BroadcastTxRequest(tx_bytes=prepared.tx.SerializeToString(), mode=BroadcastMode.BROADCAST_MODE_SYNC)
        response = self._guard(lambda: self._ledger.txs.BroadcastTx(request)).tx_response
        if response.code != 0:
            raise _classify(response.raw_log, response.codespace, response.code)
        account.sequence += 1
        self._accounts[address] = account
        return response.txhash, _fee_amount(fee, self.network.denom)

    def _prepare(self, tx: Transaction, wallet: LocalWallet, account: Any, fee: TxFee, memo: str) -> Transaction:
        gas = int(self._ledger.simulate_tx(_sealed_for_simulation(tx, wallet, account, self.network.chain_id)))
        fee.gas_limit = max(int(gas * self.network.gas_multiplier), 80_000)
        fee.amount = f"{int((Decimal(fee.gas_limit) * self.network.gas_price).to_integral_value('ROUND_CEILING'))}" + (
            self.network.denom
        )
        return prepare_basic_transaction(self._ledger, tx, wallet, account, fee=fee, memo=memo or None)

    def wait_for_tx(self, tx_hash: str, fee: int = 0) -> TxResult:
        deadline = time.monotonic() + self.network.tx_timeout_s
        while time.monotonic() < deadline:
            try:
                response = self._ledger.txs.GetTx(GetTxRequest(hash=tx_hash)).tx_response
            except grpc.RpcError as error:
                if error.code() in (grpc.StatusCode.NOT_FOUND,) or "not found" in (error.details() or ""):
                    time.sleep(0.2)
                    continue
                raise _from_rpc(error) from error
            if response.code != 0:
                raise _classify(response.raw_log, response.codespace, response.code)
            events = [Event(e.type, {_text(a.key): _text(a.value) for a in e.attributes}) for e in response.events]
            return TxResult(
                response.txhash, int(response.height), int(response.gas_used), int(response.gas_wanted), fee, events
            )
        raise ChainError(
            ChainErrorKind.TIMEOUT, f"tx {tx_hash} was not included within {self.network.tx_timeout_s:.0f}s"
        )

    # --- helpers -------------------------------------------------------------------------
    def _rpc(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            response = httpx.get(f"{self.network.rpc_url}/{path}", params=params, timeout=5)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise ChainError(
                ChainErrorKind.NODE_DOWN, f"node RPC {self.network.rpc_url} unreachable: {error}"
            ) from error
        body = response.json()
        if "result" not in body:
            raise ChainError(ChainErrorKind.TX_FAILED, f"node RPC {path} answered an error: {body.get('error')}")
        return body["result"]

    def _guard(self, call: Any) -> Any:
        try:
            return call()
        except grpc.RpcError as error:
            raise _from_rpc(error) from error
        except RuntimeError as error:
            if isinstance(error, ChainError):
                raise
            raise _classify(str(error), "", -1) from error


def _sealed_for_simulation(tx: Transaction, wallet: LocalWallet, account: Any, chain_id: str) -> Transaction:
    tx.seal(SigningCfg.direct(wallet.public_key(), account.sequence), fee=TxFee([], 0), memo=None)
    tx.sign(wallet.signer(), chain_id, account.number)
    tx.complete()
    return tx


def _length_delimited(message: bytes, number: int) -> bytes:
    """The first length-delimited field `number` of a protobuf message (b"" when absent)."""
    position = 0
    while position < len(message):
        key, position = _varint(message, position)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, position = _varint(message, position)
        elif wire == 2:
            size, position = _varint(message, position)
            if field == number:
                return message[position : position + size]
            position += size
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise ChainError(ChainErrorKind.TX_FAILED, f"unreadable protobuf answer (wire type {wire})")
    return b""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _fee_amount(fee: TxFee, denom: str) -> int:
    text = str(fee.amount)
    return int(text[: -len(denom)]) if text.endswith(denom) else int("".join(ch for ch in text if ch.isdigit()))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return base64.b64encode(value).decode()
    return str(value)


def _from_rpc(error: grpc.RpcError) -> ChainError:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    if code == grpc.StatusCode.UNAVAILABLE:
        return ChainError(ChainErrorKind.NODE_DOWN, f"chain node unreachable (is the localnet up?): {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ChainError(ChainErrorKind.TIMEOUT, f"chain node did not answer in time: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return ChainError(ChainErrorKind.NOT_FOUND, details or "not found")
    return _classify(details or "", "", -1)


def _classify(raw_log: str, codespace: str, code: int) -> ChainError:
    """Map the node's raw log to a kind and a plain message (the raw log stays in the message)."""
    log = raw_log.strip()
    lower = log.lower()
    if "account sequence mismatch" in lower or "incorrect account sequence" in lower:
        return ChainError(ChainErrorKind.SEQUENCE, f"account sequence mismatch: {log}")
    if "insufficient funds" in lower or "insufficient fee" in lower:
        return ChainError(ChainErrorKind.INSUFFICIENT_FUNDS, f"insufficient funds: {log}")
    if "out of gas" in lower:
        return ChainError(ChainErrorKind.OUT_OF_GAS, f"out of gas: {log}")
    if "not found" in lower and "account" in lower:
        return ChainError(ChainErrorKind.INSUFFICIENT_FUNDS, f"account has no funds on this chain yet: {log}")
    if codespace == "wasm" or "execute wasm contract failed" in lower or "query wasm contract failed" in lower:
        return ChainError(ChainErrorKind.CONTRACT, f"contract rejected the message: {_contract_reason(log)}")
    return ChainError(ChainErrorKind.TX_FAILED, f"transaction failed (code {code}): {log}")


def _contract_reason(log: str) -> str:
    """The contract's own error text, without the SDK's wrapping."""
    for marker in ("execute wasm contract failed", "query wasm contract failed", "instantiate wasm contract failed"):
        if marker in log:
            head = log.split(marker)[0].rstrip(": ")
            return head.split("failed to execute message; message index: 0: ")[-1] or log
    return log
