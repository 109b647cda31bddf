"""The `fedchain` CLI: every bad argument gets a one-line reason, exit code 1, and changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_diabetes

from client_kit.chain import ChainClient
from client_kit.data import load_folder, write_npz
from client_kit.ipfs import KuboStore
from client_kit.keys import wallet_from_mnemonic
from client_kit.model_format import encode
from client_kit.settings import ClientSettings, settings_from_source
from client_kit.task_hub import Scoring, TaskHub, TaskSpec, TaskStatus
from keepers.cli import cli
from localnet.deploy import Deployment
from localnet.network import Localnet

# A client.py as far as create-task reads it: its embedded settings (the metric the task names).
CLIENT_SETTINGS = ClientSettings("numpy", "m", "fedchain-local-1", "wasm1c", "wasm", (64,), 10, 1.0, 1, 0.1, 32)
CLIENT = f'SETTINGS = ClientSettings.from_json(r"""{CLIENT_SETTINGS.to_json()}""")\n'


def _run(localnet: Localnet, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, FEDCHAIN_HOME=str(localnet.config.home), FEDCHAIN_PORT_OFFSET=str(localnet.config.port_offset)
    )
    return subprocess.run(
        [sys.executable, "-m", "keepers.cli", *args], capture_output=True, text=True, env=env, input=stdin, timeout=120
    )


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _all_commands(cli))
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, path


@pytest.fixture
def state(localnet: Localnet, chain: ChainClient, deployment: Deployment):
    """A snapshot of what a refused command must not change: the task counter and the org's balance
    (taken once the dev keeper is registered, so a task may name it)."""
    hub = TaskHub(chain, deployment.contract)
    hub.register_keeper(wallet_from_mnemonic(localnet.config.dev_account("keeper").mnemonic), "K", "127.0.0.1:9092")
    organization = str(wallet_from_mnemonic(localnet.config.dev_account("organization").mnemonic).address())
    return lambda: (hub.config().next_task_id, chain.balance(organization))


def _fails(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr.strip()
    assert message.startswith("error:"), message
    for phrase in phrases:
        assert phrase in message, message
    assert "Traceback" not in result.stderr


def test_unknown_task(localnet: Localnet, deployment: Deployment) -> None:
    _fails(_run(localnet, "tasks", "show", "99999"), "task 99999 does not exist")
    _fails(_run(localnet, "trainer", "join", "99999", "--key", "trainer1"), "task 99999 does not exist")


def test_wrong_key(localnet: Localnet, deployment: Deployment, state) -> None:
    before = state()
    _fails(_run(localnet, "org", "register", "--key", "nobody", "--name", "x"), "no key named 'nobody'")
    assert state() == before


def test_past_deadline_and_malformed_yaml_and_missing_file(
    localnet: Localnet,
    deployment: Deployment,
    state,
    tmp_path: Path,
) -> None:
    before = state()
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    model = tmp_path / "model.bin"
    model.write_bytes(b"\0" * 16)
    flags = [
        "--model-name",
        "m",
        "--client",
        str(client),
        "--initial-model",
        str(model),
        "--rounds",
        "2",
        "--min-trainers",
        "1",
        "--max-trainers",
        "2",
        "--stake",
        "10",
        "--pool",
        "1000",
        "--training-deadline",
        "2h",
        "--keeper",
        "keeper",
    ]
    _fails(
        _run(localnet, "org", "create-task", *flags, "--join-deadline", "2020-01-01T00:00:00+00:00"),
        "not in the future",
    )
    bad = tmp_path / "task.yaml"
    bad.write_text("model_name: [unclosed\n")
    _fails(_run(localnet, "org", "create-task", "--file", str(bad)), "not valid YAML")
    _fails(_run(localnet, "org", "create-task", "--file", str(tmp_path / "missing.yaml")), "does not exist")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model_name: m\nbudget: 5\n")
    _fails(_run(localnet, "org", "create-task", "--file", str(unknown)), "unknown task fields ['budget']")
    _fails(_run(localnet, "org", "create-task", *flags, "--join-deadline", "tomorrow-ish"), "cannot read")
    measured = [*flags, "--join-deadline", "10m", "--scoring", "measured"]
    _fails(_run(localnet, "org", "create-task", *measured), "needs its validation set: give --validation DIR")
    (tmp_path / "empty").mkdir()
    _fails(_run(localnet, "org", "create-task", *measured, "--validation", str(tmp_path / "empty")), "is empty")
    assert state() == before


def test_insufficient_funds(localnet: Localnet, deployment: Deployment, state, tmp_path: Path) -> None:
    before = state()
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    model = tmp_path / "model.bin"
    model.write_bytes(b"\0" * 16)
    result = _run(
        localnet,
        "org",
        "create-task",
        "--model-name",
        "m",
        "--client",
        str(client),
        "--initial-model",
        str(model),
        "--rounds",
        "2",
        "--min-trainers",
        "1",
        "--max-trainers",
        "2",
        "--stake",
        "10",
        "--pool",
        str(10**18),
        "--join-deadline",
        "10m",
        "--training-deadline",
        "2h",
        "--keeper",
        "keeper",
    )
    _fails(result, "insufficient funds")
    assert state() == before


def test_node_down_is_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, FEDCHAIN_HOME=str(tmp_path), FEDCHAIN_PORT_OFFSET="4321")
    result = subprocess.run(
        [sys.executable, "-m", "keepers.cli", "balance", "trainer1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    _fails(result, "unreachable")


def test_a_trainer_who_cannot_pay_stake_and_fee_is_refused(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, tmp_path: Path
) -> None:
    hub = TaskHub(chain, deployment.contract)
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    model = tmp_path / "model.safetensors"
    model.write_bytes(encode(["w"], [np.zeros(2, np.float32)]))  # a keeper only bonds a task with a real model
    assert _run(localnet, "org", "register", "--name", "Acme").returncode == 0
    assert _run(localnet, "keeper", "register", "--name", "K", "--endpoint", "127.0.0.1:9092").returncode == 0
    created = _run(
        localnet, "org", "create-task", "--model-name", "m", "--client", str(client), "--initial-model", str(model),
        "--rounds", "1", "--min-trainers", "1", "--max-trainers", "2", "--stake", "5000", "--pool", "1000",
        "--join-deadline", "10m", "--training-deadline", "2h", "--keeper", "keeper", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    task_id = json.loads(created.stdout)["task_id"]
    _fails(_run(localnet, "trainer", "join", str(task_id), "--key", "trainer1"), "keeper has not accepted it")
    accepted = _run(localnet, "keeper", "accept", str(task_id))
    assert accepted.returncode == 0 and "bonded 100" in accepted.stdout, accepted.stderr  # a tenth of the pool
    assert _run(localnet, "keys", "add", "poor").returncode == 0
    address = _run(localnet, "keys", "show", "poor").stdout.strip()
    organization = wallet_from_mnemonic(localnet.config.dev_account("organization").mnemonic)
    chain.send(organization, address, 5_500)  # the stake, but not the fee on top of it
    _fails(_run(localnet, "trainer", "join", str(task_id), "--key", "poor"), "not enough balance", "in fees")
    assert hub.task(task_id).participants == 0 and chain.balance(address) == 5_500


def test_a_measured_task_records_its_validation_set_and_says_so(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, state, tmp_path: Path
) -> None:
    """`--validation DIR` puts the folder's fingerprint on chain; `tasks show` tells trainers how they are paid."""
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    model = tmp_path / "model.bin"
    model.write_bytes(b"\0" * 16)
    write_npz(tmp_path / "held-out", np.ones((4, 2), np.float32), np.array([0, 1, 0, 1]))
    fingerprint = load_folder(tmp_path / "held-out").sha256()
    assert _run(localnet, "org", "register", "--name", "Acme").returncode == 0
    created = _run(
        localnet, "org", "create-task", "--model-name", "m", "--client", str(client), "--initial-model", str(model),
        "--rounds", "1", "--min-trainers", "1", "--max-trainers", "2", "--stake", "10", "--pool", "1000",
        "--join-deadline", "10m", "--training-deadline", "2h", "--keeper", "keeper",
        "--scoring", "measured", "--validation", str(tmp_path / "held-out"), "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    task_id = json.loads(created.stdout)["task_id"]
    task = TaskHub(chain, deployment.contract).task(task_id)
    assert (task.scoring, task.validation_sha256) == (Scoring.MEASURED, fingerprint)
    shown = _run(localnet, "tasks", "show", str(task_id))
    assert shown.returncode == 0, shown.stderr
    assert "paid for measured contribution" in shown.stdout and fingerprint in shown.stdout.replace("\n", "")


def test_build_client_refuses_a_bad_model_spec(localnet: Localnet, deployment: Deployment, tmp_path: Path) -> None:
    out = tmp_path / "client.py"
    _fails(_run(localnet, "org", "build-client", "--model", "missing.py:Net", "--out", str(out)), "does not exist")
    _fails(_run(localnet, "org", "build-client", "--model", "softmax", "--input-shape", "8x8"), "--input-shape")
    assert not out.exists()


def test_join_fetches_and_checks_client_py_before_it_stakes(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore
) -> None:
    """`trainer join` used to stake first and check client.py after: a task whose client.py does not
    match its hash now costs the trainer nothing."""
    hub = TaskHub(chain, deployment.contract)
    config = localnet.config
    org, keeper = (wallet_from_mnemonic(config.dev_account(n).mnemonic) for n in ("organization", "keeper"))
    hub.register(org, "Acme", organization=True)
    hub.register_keeper(keeper, "K", "127.0.0.1:9092")
    real = kubo.add(b"print('the real client')\n", "client.py")
    other = kubo.add(b"print('what the chain hashes')\n", "other.py")
    now = int(chain.block_time())
    spec = TaskSpec(
        "m", "", real.cid, other.sha256, real.cid, real.sha256, 1, 1, 2, 5_000, now + 600, now + 1200,
        str(keeper.address()), 1_000, 0, 1000, 5000, 1000, Decimal(50), 60,
    )  # fmt: skip
    task_id, _ = hub.create_task(org, spec, 10_000, config.denom)
    hub.accept_task(keeper, task_id, 1_000, config.denom)
    trainer = str(wallet_from_mnemonic(config.dev_account("trainer6").mnemonic).address())
    before = chain.balance(trainer)
    _fails(_run(localnet, "trainer", "join", str(task_id), "--key", "trainer6"), "does not match the hash on chain")
    assert hub.task(task_id).participants == 0 and chain.balance(trainer) == before


def test_a_keeper_bonds_nothing_on_a_task_it_could_not_deliver(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore
) -> None:
    """Review: an organization could name an initial model that is no model (or rounds that each
    wait a day); the keeper bonded, its runs died before round 1, and the organization collected
    the bond. The keeper now fetches, verifies and loads the task's files, and holds the round
    timeout to its own limit, before it bonds anything."""
    hub = TaskHub(chain, deployment.contract)
    config = localnet.config
    org, keeper = (wallet_from_mnemonic(config.dev_account(n).mnemonic) for n in ("organization", "keeper"))
    hub.register(org, "Acme", organization=True)
    hub.register_keeper(keeper, "K", "127.0.0.1:9092")
    client = kubo.add(b"print('a client')\n", "client.py")
    garbage = kubo.add(b"not a safetensors model at all", "initial.safetensors")
    now = int(chain.block_time())
    spec = TaskSpec(
        "m", "", client.cid, client.sha256, garbage.cid, garbage.sha256, 1, 1, 2, 5_000, now + 600, now + 1200,
        str(keeper.address()), 1_000, 0, 1000, 5000, 1000, Decimal(50), 60,
    )  # fmt: skip
    task_id, _ = hub.create_task(org, spec, 10_000, config.denom)
    before = chain.balance(str(keeper.address()))
    _fails(_run(localnet, "keeper", "accept", str(task_id)), "not accepted", "initial model is no model")
    slow = TaskSpec(**{**spec.__dict__, "round_timeout_secs": 600})
    slow_id, _ = hub.create_task(org, slow, 10_000, config.denom)
    _fails(
        _run(localnet, "keeper", "accept", str(slow_id), "--max-round-timeout", "300"),
        "may each wait 600 s, more than this keeper's 300 s",
    )
    assert hub.task(task_id).status == hub.task(slow_id).status == TaskStatus.PROPOSED
    assert chain.balance(str(keeper.address())) == before  # nothing bonded (refused before any tx)


def test_a_layout_for_separate_machines_names_every_peer_by_its_address(tmp_path: Path) -> None:
    hosts = "10.0.0.11,10.0.0.12,10.0.0.13,10.0.0.14,10.0.0.20"
    result = CliRunner().invoke(cli, ["localnet", "layout", "--hosts", hosts, "--out", str(tmp_path / "net")])
    assert result.exit_code == 0, result.output
    addresses = hosts.split(",")
    for i, address in enumerate(addresses[:4]):
        config = (tmp_path / "net" / f"validator{i}" / "config" / "config.toml").read_text()
        assert f'laddr = "tcp://{address}:{26656 + 10 * i}"' in config
        peers = next(line for line in config.splitlines() if line.startswith("persistent_peers"))
        assert sorted(p.split("@")[1] for p in peers.split('"')[1].split(",")) == sorted(
            f"{other}:{26656 + 10 * j}" for j, other in enumerate(addresses[:4]) if j != i
        )
        assert f"{address}: wasmd start --home" in result.output
    kubo = json.loads((tmp_path / "net" / "kubo" / "config").read_text())
    assert kubo["Addresses"]["API"] == "/ip4/10.0.0.20/tcp/5001"
    recorded = json.loads((tmp_path / "net" / "hosts.json").read_text())  # what later commands read
    assert recorded == {"validators": addresses[:4], "ipfs": "10.0.0.20"}
    for bad, reason in (
        ("10.0.0.11,10.0.0.12", "give 4 distinct validator addresses"),
        ("10.0.0.11,10.0.0.11,10.0.0.13,10.0.0.14", "give 4 distinct validator addresses"),
        ("10.0.0.11,10.0.0.12,10.0.0.13,keeper.example", "is not an IPv4 address"),
    ):
        refused = CliRunner().invoke(cli, ["localnet", "layout", "--hosts", bad, "--out", str(tmp_path / "other")])
        assert refused.exit_code == 2 and reason in refused.output, refused.output


@pytest.mark.parametrize("endpoint", ["nonsense", "1.2.3.4:0", "host name:9443", "1.2.3.4:99999", ":9443"])
def test_a_keeper_refuses_a_public_endpoint_that_is_not_host_and_port(endpoint: str) -> None:
    result = CliRunner().invoke(cli, ["keeper", "run", "--keeper-key", "keeper", "--public-endpoint", endpoint])
    assert result.exit_code == 2 and "is not HOST:PORT" in result.output, result.output


def test_keeper_run_needs_a_registered_keeper(localnet: Localnet, deployment: Deployment, tmp_path: Path) -> None:
    """The service publishes its endpoint and certificate in the keeper's profile: without one it
    stops at once with the command to run, and starts nothing."""
    result = _run(localnet, "keeper", "run", "--keeper-key", "trainer10", "--once", "--workdir", str(tmp_path))
    _fails(result, "is not a registered keeper", "fedchain keeper register --key trainer10")
    assert not (tmp_path / "tls").exists()


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_build_client_serves_a_flower_app_and_a_regression_whose_metric_goes_on_chain(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, state, tmp_path: Path
) -> None:
    flower = tmp_path / "flower.py"
    built = _run(
        localnet, "org", "build-client", "--flower-app", str(EXAMPLES / "flower_digits"), "--model",
        "digitsapp.task:Net", "--input-shape", "8,8", "--flower-train-config", '{"lr": 0.1}', "--out", str(flower),
        "--initial-model-out", str(tmp_path / "flower.safetensors"), "--json",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert summary["template"] == "flower" and summary["metric"] == "accuracy (higher is better)"
    settings = settings_from_source(flower.read_bytes())
    assert settings.flower is not None and settings.flower.train_config == {"lr": 0.1}
    assert settings.flower.run_config["local-epochs"] == 3  # the app's own [tool.flwr.app.config]

    sample = tmp_path / "sample"
    data = load_diabetes(scaled=False)
    write_npz(sample, data.data[:100], data.target[:100])
    model = EXAMPLES / "diabetes_regression" / "model.py"
    client = tmp_path / "client.py"
    initial = tmp_path / "initial.safetensors"
    regression = [
        "org", "build-client", "--model", f"{model}:DiabetesRegressor", "--training", str(model), "--objective",
        "regression", "--metric", "mse", "--input-shape", "10", "--out", str(client), "--initial-model-out",
        str(initial),
    ]  # fmt: skip
    _fails(_run(localnet, *regression, "--standardize", str(tmp_path / "none")), "does not exist")  # nothing written
    _fails(_run(localnet, *regression, "--metric", "Mean Error"), "metric name")
    flower_app = ["--flower-app", str(EXAMPLES / "flower_digits"), "--model", "digitsapp.task:Net"]
    _fails(
        _run(localnet, "org", "build-client", *flower_app, "--flower-train-config", "[1]", "--out", str(client)), "JSON"
    )
    assert not client.exists()
    done = _run(localnet, *regression, "--standardize", str(sample), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metric"] == "mse (lower is better)"
    standardize = settings_from_source(client.read_bytes()).standardize
    assert standardize is not None and len(standardize.mean) == 10

    assert _run(localnet, "org", "register", "--name", "Acme").returncode == 0
    before = state()
    created = _run(
        localnet, "org", "create-task", "--model-name", "diabetes", "--client", str(client), "--initial-model",
        str(initial), "--rounds", "1", "--min-trainers", "1", "--max-trainers", "2", "--stake", "10", "--pool", "1000",
        "--join-deadline", "10m", "--training-deadline", "2h", "--keeper", "keeper", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    task_id = json.loads(created.stdout)["task_id"]
    assert state()[0] == before[0] + 1
    task = TaskHub(chain, deployment.contract).task(task_id)
    assert task.metric.name == "mse" and not task.metric.higher_is_better and task.metric.at_most is None
    shown = _run(localnet, "tasks", "show", str(task_id))
    assert "rounds report mse (lower is better)" in shown.stdout, shown.stdout
