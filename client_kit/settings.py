"""The public task parameters a rendered client.py embeds: which chain and contract, and
how the task's model is trained. Nothing secret: everything here is covered by the client's hash
on chain, so every trainer of a task runs exactly the same settings."""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from chain_config import Network


@dataclass(frozen=True)
class ClientSettings:
    """What a rendered client.py embeds: public task parameters, nothing secret."""

    template: str
    model_name: str
    chain_id: str
    contract: str
    prefix: str  # the chain's address prefix
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
            prefix=network.bech32_prefix,
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


class SettingsError(ValueError):
    """A client.py whose embedded settings cannot be read without running it."""


def settings_from_source(source: bytes) -> ClientSettings:
    """The settings a client.py embeds (`SETTINGS = ClientSettings.from_json(r\"\"\"…\"\"\")`),
    read from its text: the process holding a key never runs the file to learn them."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        raise SettingsError(f"client.py is not valid Python: {error}") from None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["SETTINGS"]
            and isinstance(node.value, ast.Call)
            and len(node.value.args) == 1
            and isinstance(node.value.args[0], ast.Constant)
            and isinstance(node.value.args[0].value, str)
        ):
            try:
                return ClientSettings.from_json(node.value.args[0].value)
            except (ValueError, TypeError, KeyError) as error:
                raise SettingsError(f"client.py's SETTINGS cannot be read: {error}") from None
    raise SettingsError("client.py embeds no SETTINGS = ClientSettings.from_json(...) literal")
