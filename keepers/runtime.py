"""Flower's deployment runtime on loopback: the keeper's SuperLink, trainers' SuperNodes, task runs.

The SuperLink serves all its APIs (Fleet, Control, ServerAppIo) on one HTTP port bound to
127.0.0.1 and never installs dependencies at run time; a task run is submitted with `flwr run` on
the app in `keepers/flower_app`, with per-run values written to a TOML override file.

The keeper's SuperLink serves TLS with the keeper's certificate and admits only registered node
keys (Flower requires TLS for node authentication); trainers on other machines reach its Fleet API
alone through the keeper's gateway (`keepers.gateway`). Without a certificate it is a plain Flower
SuperLink, as the benchmarks' baseline runs it.
"""

from __future__ import annotations

import os
import ssl
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import httpx

from chain_config import Network
from client_kit.command import trainer_command
from client_kit.preflight import KeySource
from keepers.certificate import KeeperCertificate
from keepers.run_config import RunConfigValue, TaskRunConfig
from localnet.processes import ManagedProcess, spawn

APP_DIR = Path(__file__).resolve().parent / "flower_app"


def flower_env(flwr_home: Path | None = None) -> dict[str, str]:
    """Flower launches its helpers (flower-superexec, flwr-serverapp) by name: put ours first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if flwr_home is not None:
        env["FLWR_HOME"] = str(flwr_home)
    return env


def start_superlink(
    port: int, workdir: Path, certificate: KeeperCertificate | None = None, timeout: float = 30.0
) -> ManagedProcess:
    """The keeper's SuperLink on 127.0.0.1:`port`, its state in memory: the chain, not the SuperLink,
    is what a restarted keeper resumes from, and Flower's SQLite file state costs up to a second per
    request here. With `certificate` it serves TLS and admits only the node keys registered with it
    (`keepers.admission`), and finds each node's messages without walking everyone's
    (`keepers.superlink`); without, it is a plain Flower SuperLink."""
    workdir.mkdir(parents=True, exist_ok=True)
    if certificate is None:
        program = [str(Path(sys.executable).parent / "flower-superlink")]
        security = ["--insecure"]
    else:
        program = [sys.executable, "-m", "keepers.superlink"]
        cert, key = str(certificate.cert_file), str(certificate.key_file)
        security = ["--ssl-certfile", cert, "--ssl-keyfile", key, "--ssl-ca-certfile", cert, "--enable-supernode-auth"]
    link = spawn(
        "superlink",
        [
            *program,
            *security,
            "--disable-runtime-dependency-installation",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        workdir / "superlink.log",
        flower_env(),
    )
    scheme = "http" if certificate is None else "https"
    verify: ssl.SSLContext | bool = False
    if certificate is not None:
        verify = ssl.create_default_context(cadata=certificate.pem.decode())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not link.alive():
            raise RuntimeError(f"the Flower SuperLink exited at start; log: {link.log}")
        try:
            httpx.get(f"{scheme}://127.0.0.1:{port}/", timeout=1, verify=verify)
            return link
        except httpx.HTTPError:
            time.sleep(0.3)
    link.stop()
    raise RuntimeError(
        f"the Flower SuperLink did not listen on 127.0.0.1:{port} within {timeout:.0f}s; log: {link.log}"
    )


def _toml_value(value: RunConfigValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def launch_task_run(
    superlink_port: int, workdir: Path, run: TaskRunConfig, certificate: KeeperCertificate | None = None
) -> ManagedProcess:
    """Submit one keeper run of a task, in the background (see `launch_run`)."""
    config = _bound_to(run, superlink_port, certificate).to_run_config()
    return launch_run(superlink_port, workdir, f"task-{run.task_id}", config, APP_DIR, certificate)


def submit_task_run(
    superlink_port: int,
    workdir: Path,
    run: TaskRunConfig,
    timeout: float = 1800,
    certificate: KeeperCertificate | None = None,
) -> int:
    """Submit one keeper run of a task and wait for it to end; returns the exit code (0: completed)."""
    config = _bound_to(run, superlink_port, certificate).to_run_config()
    return submit_run(superlink_port, workdir, f"task-{run.task_id}", config, APP_DIR, timeout, certificate)


def _bound_to(run: TaskRunConfig, superlink_port: int, certificate: KeeperCertificate | None) -> TaskRunConfig:
    """The run as submitted to this SuperLink: its ServerApp asks the same one which key each node has."""
    return replace(run, superlink_port=superlink_port, certificate_file=certificate.cert_file if certificate else None)


def launch_run(
    superlink_port: int,
    workdir: Path,
    name: str,
    config: Mapping[str, RunConfigValue],
    app_dir: Path,
    certificate: KeeperCertificate | None = None,
) -> ManagedProcess:
    """Submit one run of the Flower app in `app_dir` with `config` overriding its run config, with
    `flwr run --stream`, which follows it to the end, in the background. `certificate` is the
    SuperLink's when it serves TLS."""
    home = workdir / "flwr-home"
    home.mkdir(parents=True, exist_ok=True)
    security = "insecure = true\n"
    if certificate is not None:
        security = f"root-certificates = {_toml_value(str(certificate.cert_file))}\n"
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "keeper"\n\n[superlink.keeper]\naddress = "127.0.0.1:{superlink_port}"\n' + security
    )
    overrides = workdir / f"run-{name}.toml"
    overrides.write_text("".join(f"{key} = {_toml_value(value)}\n" for key, value in config.items()))
    command = [
        str(Path(sys.executable).parent / "flwr"),
        "run",
        str(app_dir),
        "keeper",
        "--run-config",
        str(overrides),
        "--stream",
    ]
    return spawn(f"run:{name}", command, workdir / "runs.log", flower_env(home))


def submit_run(
    superlink_port: int,
    workdir: Path,
    name: str,
    config: Mapping[str, RunConfigValue],
    app_dir: Path,
    timeout: float = 1800,
    certificate: KeeperCertificate | None = None,
) -> int:
    """Submit one run (see `launch_run`) and wait for it to end; returns the exit code (0: completed)."""
    launched = launch_run(superlink_port, workdir, name, config, app_dir, certificate)
    try:
        return launched.process.wait(timeout)
    finally:
        launched.stop()


def start_trainer(
    client_file: Path,
    task_id: int,
    data_dir: Path,
    key_file: Path,
    log: Path,
    network: Network,
    contract: str,
    superlink: str | None = None,
    fault: str = "",
    claim: bool = True,
) -> ManagedProcess:
    """A trainer as trainers run it (`fedchain trainer train`'s command), with its own network."""
    keys = KeySource(key_file=key_file)
    command = trainer_command(client_file, task_id, data_dir, keys, network, contract, superlink, fault, claim)
    env = flower_env()
    env["COLUMNS"] = "160"
    return spawn(f"trainer:{client_file.parent.name}", command, log, env)
