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

import contextlib
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from enum import Enum
from pathlib import Path

import httpx
from flwr.common.constant import Status, SubStatus
from flwr.proto.control_pb2 import ListRunsRequest, StopRunRequest
from flwr.supercore.control.control_http_client import ControlHttpClient

from chain_config import Network
from client_kit.command import trainer_command
from client_kit.preflight import KeySource
from keepers.certificate import KeeperCertificate
from keepers.run_config import RunConfigValue, TaskRunConfig
from localnet.processes import ManagedProcess, spawn

APP_DIR = Path(__file__).resolve().parent / "flower_app"
START_TIMEOUT_S = 120.0  # for `flwr run` to submit a run, or `flwr log` to print its logs
RUN_POLL_S = 2.0  # how often a run's status is read
RUN_LOST_S = 120.0  # a SuperLink that answers nothing this long has lost its runs


class RunOutcome(Enum):
    COMPLETED = "completed"
    FAILED = "failed"  # finished otherwise: the ServerApp raised, or the run was stopped
    LOST = "lost"  # the SuperLink no longer knows the run, or stopped answering


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


def start_task_run(
    superlink_port: int, workdir: Path, run: TaskRunConfig, certificate: KeeperCertificate | None = None
) -> int:
    """Start one keeper run of a task (see `start_run`); returns its run id."""
    config = _bound_to(run, superlink_port, certificate).to_run_config()
    return start_run(superlink_port, workdir, f"task-{run.task_id}", config, APP_DIR, certificate)


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


def control_client(superlink_port: int, certificate_pem: bytes | None = None) -> ControlHttpClient:
    """A client of the SuperLink's Control API on loopback, verifying the keeper's certificate
    (`certificate_pem`) when the SuperLink serves TLS."""
    return ControlHttpClient.from_server_address(
        f"127.0.0.1:{superlink_port}",
        insecure=certificate_pem is None,
        root_certificates=certificate_pem,
        interceptors=[],
    )


def _flwr(superlink_port: int, workdir: Path, certificate: KeeperCertificate | None) -> tuple[str, dict[str, str]]:
    """The `flwr` command and its environment, its config naming this SuperLink as `keeper`."""
    home = workdir / "flwr-home"
    home.mkdir(parents=True, exist_ok=True)
    security = "insecure = true\n"
    if certificate is not None:
        security = f"root-certificates = {_toml_value(str(certificate.cert_file))}\n"
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "keeper"\n\n[superlink.keeper]\naddress = "127.0.0.1:{superlink_port}"\n' + security
    )
    env = flower_env(home)
    env.pop("FORCE_COLOR", None)  # the keeper reads `flwr`'s JSON: colour codes (Playwright sets this) break it
    env["NO_COLOR"] = "1"
    return str(Path(sys.executable).parent / "flwr"), env


def start_run(
    superlink_port: int,
    workdir: Path,
    name: str,
    config: Mapping[str, RunConfigValue],
    app_dir: Path,
    certificate: KeeperCertificate | None = None,
) -> int:
    """Submit one run of the Flower app in `app_dir` with `config` overriding its run config
    (`flwr run`); returns its run id. `certificate` is the SuperLink's when it serves TLS."""
    flwr, env = _flwr(superlink_port, workdir, certificate)
    overrides = workdir / f"run-{name}.toml"
    overrides.write_text("".join(f"{key} = {_toml_value(value)}\n" for key, value in config.items()))
    command = [flwr, "run", str(app_dir), "keeper", "--run-config", str(overrides), "--format", "json"]
    try:
        started = subprocess.run(command, capture_output=True, text=True, env=env, timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`flwr run` did not answer within {START_TIMEOUT_S:.0f} s for {name}") from None
    try:
        return int(json.loads(started.stdout)["run-id"])
    except (ValueError, KeyError, TypeError):
        output = started.stdout[-2000:] + started.stderr[-2000:]
        raise RuntimeError(f"`flwr run` did not start {name}: {output}") from None


def wait_for_run(
    superlink_port: int, run_id: int, timeout: float, certificate: KeeperCertificate | None = None
) -> RunOutcome:
    """Follow a run by its status until it finishes; on `timeout` it is stopped and
    subprocess.TimeoutExpired raised. The run is judged by what the SuperLink records, read every
    RUN_POLL_S with one small request: a slow or failed answer is asked again (a SuperLink busy with
    a thousand nodes must not make the keeper think its run ended and start a second one), and
    only a SuperLink that answers nothing for RUN_LOST_S means the run is lost with it."""
    control = control_client(superlink_port, None if certificate is None else certificate.pem)
    deadline = time.monotonic() + timeout
    answered = time.monotonic()
    while True:
        try:
            runs = control.ListRuns(ListRunsRequest(run_id=run_id)).run_dict
            answered = time.monotonic()
            status = runs[run_id].status if run_id in runs else None
            if status is None:
                return RunOutcome.LOST  # the SuperLink restarted: nothing of the run is left
            if status.status == Status.FINISHED:
                return RunOutcome.COMPLETED if status.sub_status == SubStatus.COMPLETED else RunOutcome.FAILED
        except httpx.HTTPError:
            if time.monotonic() - answered > RUN_LOST_S:
                _stop(control, run_id)  # if it still runs somewhere, it must not run beside the next one
                return RunOutcome.LOST
        if time.monotonic() >= deadline:
            _stop(control, run_id)
            raise subprocess.TimeoutExpired(f"run {run_id}", timeout)
        time.sleep(RUN_POLL_S)


def _stop(control: ControlHttpClient, run_id: int) -> None:
    with contextlib.suppress(httpx.HTTPError):
        control.StopRun(StopRunRequest(run_id=run_id))


def stop_unfinished_runs(superlink_port: int, certificate: KeeperCertificate | None = None) -> list[int]:
    """Stop every run the SuperLink has not finished; returns their ids. The keeper serves one run
    at a time, so before it starts one, any other is a run it lost track of (a SuperLink too busy
    to answer for a while), which must not train beside the new one."""
    control = control_client(superlink_port, None if certificate is None else certificate.pem)
    runs = control.ListRuns(ListRunsRequest()).run_dict
    unfinished = [run_id for run_id, run in runs.items() if run.status.status != Status.FINISHED]
    for run_id in unfinished:
        _stop(control, run_id)
    return unfinished


def submit_run(
    superlink_port: int,
    workdir: Path,
    name: str,
    config: Mapping[str, RunConfigValue],
    app_dir: Path,
    timeout: float = 1800,
    certificate: KeeperCertificate | None = None,
) -> int:
    """Start one run (see `start_run`), wait for it to end (see `wait_for_run`) and append its
    logs to `workdir`/runs.log; returns 0 when it completed. Any run the SuperLink has not
    finished is stopped first (`stop_unfinished_runs`)."""
    stop_unfinished_runs(superlink_port, certificate)
    run_id = start_run(superlink_port, workdir, name, config, app_dir, certificate)
    try:
        outcome = wait_for_run(superlink_port, run_id, timeout, certificate)
    finally:
        _save_logs(superlink_port, workdir, run_id, certificate)
    return 0 if outcome == RunOutcome.COMPLETED else 1


def _save_logs(superlink_port: int, workdir: Path, run_id: int, certificate: KeeperCertificate | None) -> None:
    """The run's ServerApp logs as the SuperLink kept them, appended to runs.log (once, at the end:
    streaming them while the run lasts took 15 % of the SuperLink's time with a big model)."""
    flwr, env = _flwr(superlink_port, workdir, certificate)
    with (workdir / "runs.log").open("a") as log, contextlib.suppress(subprocess.SubprocessError, OSError):
        log.write(f"--- run {run_id} ---\n")
        log.flush()
        subprocess.run(
            [flwr, "log", str(run_id), "keeper", "--show"], stdout=log, stderr=log, env=env, timeout=START_TIMEOUT_S
        )


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
