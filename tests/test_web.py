"""`fedchain web`: the web app built once per source hash and served against the CLI's network."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import IO

import pytest
from rich.console import Console
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from client_kit.chain import ChainClient
from client_kit.ipfs import KuboStore
from client_kit.keys import wallet_from_mnemonic
from client_kit.task_hub import TaskHub, TaskSpec
from keepers.demo import DemoOptions, run_demo
from keepers.web_server import BUILD_INPUTS, KEEP_BUILDS, WEB_DIR, _prune, source_hash
from localnet.deploy import Deployment
from localnet.network import Localnet
from localnet.processes import free_port, port_free

URL_LINE = re.compile(r"fedchain web: (http://127\.0\.0\.1:\d+)")
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (WEB_DIR / "node_modules" / "next").is_dir(),
    reason="Node.js and web/node_modules (npm ci in web/, which setup.sh runs) are needed to build the app",
)


def test_the_build_key_covers_the_sources_and_not_the_clone(tmp_path: Path) -> None:
    """A fresh clone (same files elsewhere) reuses the build; any change to a source is a new build."""
    clone = tmp_path / "web"
    for name in BUILD_INPUTS:
        source = WEB_DIR / name
        if source.is_dir():
            shutil.copytree(source, clone / name)
        elif source.is_file():
            clone.mkdir(exist_ok=True)
            shutil.copy2(source, clone / name)
    (clone / "tests").mkdir()
    (clone / "tests" / "new.spec.ts").write_text("// tests are not part of the build\n")
    assert source_hash(clone) == source_hash(WEB_DIR)
    page = clone / "src" / "app" / "page.tsx"
    page.write_text(page.read_text() + "\n")
    assert source_hash(clone) != source_hash(WEB_DIR)


def test_old_builds_are_pruned_but_never_the_one_in_use(tmp_path: Path) -> None:
    for index in range(KEEP_BUILDS + 2):
        build = tmp_path / f"build{index}"
        (build / ".next").mkdir(parents=True)
        (tmp_path / f"build{index}.lock").touch()
        os.utime(build, (1_000 + index, 1_000 + index))  # build0 is the oldest
    _prune(tmp_path, keep=tmp_path / "build0")
    kept = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert kept == ["build0", *(f"build{i}" for i in range(2, KEEP_BUILDS + 2))]
    assert not (tmp_path / "build1.lock").exists()


def _task_with_terms(localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore) -> int:
    hub = TaskHub(chain, deployment.contract)
    config = localnet.config
    org, keeper = (wallet_from_mnemonic(config.dev_account(n).mnemonic) for n in ("organization", "keeper"))
    hub.register(org, "Web Test Clinic", organization=True)
    hub.register_keeper(keeper, "K", "127.0.0.1:9092")
    client = kubo.add(b"print('client.py of the web test task')\n", "client.py")
    model = kubo.add(b"not a real model: the page only links it\n", "initial_model.safetensors")
    now = int(chain.block_time())
    spec = TaskSpec(
        "web-served-digits", "rendered by fedchain web", client.cid, client.sha256, model.cid, model.sha256,
        4, 1, 3, 7_000_000, now + 600, now + 3600, str(keeper.address()), 2_000_000, 0, 1000, 5000, 1000,
        Decimal(50), 60,
    )  # fmt: skip
    task_id, _ = hub.create_task(org, spec, 12_500_000, config.denom)
    return task_id


def _get(url: str) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), time.monotonic() - started


Started = tuple[subprocess.Popen[str], str, str, "queue.Queue[str | None]"]


def _start(localnet: Localnet, port: int, log: Path) -> Started:
    """`fedchain web --port PORT` on the suite's localnet; returns it, its URL and what it printed."""
    env = dict(
        os.environ, FEDCHAIN_HOME=str(localnet.config.home), FEDCHAIN_PORT_OFFSET=str(localnet.config.port_offset)
    )
    for name in ("FEDCHAIN_REST", "FEDCHAIN_IPFS_GATEWAY", "FEDCHAIN_FEED", "FEDCHAIN_CONTRACT"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "keepers.cli", "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        # Started as a background job of a non-interactive shell is: SIGINT ignored. Ctrl-C (the
        # SIGINT `_stop` sends) must stop it all the same (it did nothing; the server ran on).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def read(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, args=(process.stdout,), daemon=True).start()
    printed: list[str] = []
    url = None
    deadline = time.monotonic() + 300  # the first run builds the app
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        printed.append(line)
        if match := URL_LINE.search(line):
            url = match.group(1)
        if url and "Ctrl-C stops it" in line:
            return process, url, "".join(printed), lines
    process.kill()
    log.write_text("".join(printed))
    pytest.fail(f"fedchain web printed no URL:\n{''.join(printed)}")


def _stop(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> str:
    """Ctrl-C; what it printed from then on."""
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    printed = []
    while (line := lines.get(timeout=10)) is not None:
        printed.append(line)
    output = "".join(printed)
    assert process.returncode == 0, output
    return output


@needs_node
def test_fedchain_web_serves_task_pages_from_the_chain(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    task_id = _task_with_terms(localnet, chain, deployment, kubo)
    port = free_port()
    process, url, printed, lines = _start(localnet, port, tmp_path / "web.log")
    try:
        assert url == f"http://127.0.0.1:{port}"
        assert deployment.contract in printed
        status, html, elapsed = _get(f"{url}/tasks/{task_id}")
        assert status == 200, html
        # The server rendered the chain's record of this task: its terms, its files, its parties.
        for fact in ("web-served-digits", "rendered by fedchain web", "12.5 FED", "7 FED"):
            assert fact in html, fact
        task = TaskHub(chain, deployment.contract).task(task_id)
        for fact in (task.client_cid, task.organization, task.keeper):
            assert fact in html, fact
        assert 'data-status="proposed"' in html
        assert elapsed < 5, elapsed
        # The app's own configuration is the CLI's network: the localnet's chain id, RPC and REST ports.
        config = localnet.config
        assert config.chain_id in html and str(config.validator_ports(0).rpc) in html
        assert str(config.validator_ports(0).api) in html
        assert _get(f"{url}/tasks/{task_id + 1000}")[0] == 404
    finally:
        output = _stop(process, lines)
    assert "stopped" in output
    assert port_free("127.0.0.1", port)  # next start is gone with it

    # Started again, the build is reused: nothing is built, it answers at once.
    process, url, printed, lines = _start(localnet, port, tmp_path / "web-again.log")
    try:
        assert "building" not in printed
        assert _get(f"{url}/tasks/{task_id}")[0] == 200
    finally:
        _stop(process, lines)
    assert port_free("127.0.0.1", port)


def test_fedchain_web_needs_a_rest_api_off_the_localnet(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDCHAIN_")}
    result = subprocess.run(
        [sys.executable, "-m", "keepers.cli", "--node", "grpc+http://127.0.0.1:1", "--contract", "wasm1x", "web"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "pass --rest" in result.stderr and "Traceback" not in result.stderr


class _Watched(io.StringIO):
    """A console's output that signals once a line matching `pattern` was written."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)
        self.found: queue.Queue[re.Match[str]] = queue.Queue()

    def write(self, text: str) -> int:
        if match := self.pattern.search(text):
            self.found.put(match)
        return super().write(text)


@needs_node
def test_demo_serves_the_web_app_with_the_keepers_live_feed(localnet: Localnet, deployment: Deployment) -> None:
    """`fedchain demo --web`: the URL comes before the rounds; the page is the demo's task, and the
    demo keeper's feed lets the app's pages subscribe (and refuses other sites)."""
    port = free_port()
    output = _Watched(r"watch it in a browser: (http://127\.0\.0\.1:\d+)/tasks/(\d+)")
    seen: dict[str, object] = {}

    def visit() -> None:
        match = output.found.get(timeout=600)
        app, task_id = match.group(1), int(match.group(2))
        status, html, _ = _get(f"{app}/tasks/{task_id}")
        seen["page"] = (status, "digits-sklearn" in html, "round-row-1" in html)
        feed = re.search(r"ws://127\.0\.0\.1:\d+", html)
        if feed is None:
            return  # the page names no keeper feed: the assertions below say so
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the keeper serves its feed once the task runs
            try:
                with connect(feed.group(0), origin=Origin(app), open_timeout=5) as socket:
                    seen["event"] = json.loads(socket.recv(timeout=60))
                break
            except (OSError, TimeoutError):
                time.sleep(0.5)
        try:
            connect(feed.group(0), origin=Origin("http://elsewhere.example"), open_timeout=5).close()
            seen["elsewhere"] = "accepted"
        except InvalidStatus as refusal:
            seen["elsewhere"] = refusal.response.status_code

    visitor = threading.Thread(target=visit, daemon=True)
    visitor.start()
    options = DemoOptions(
        trainers=3, rounds=2, model="sklearn", adversaries=False, federated_evaluation=False, web_port=port
    )
    report = run_demo(options, localnet.config, Console(file=output, width=200))
    visitor.join(timeout=60)
    text = output.getvalue()  # (its books are test_demo.py's business)
    assert len(report.accuracies) == 2, text  # both rounds attested while the app served
    assert text.index("watch it in a browser") < text.index("trainers joined")  # before any round
    assert seen.get("page") == (200, True, False), (seen, text)  # the demo's task, no round yet
    event = seen.get("event")
    assert isinstance(event, dict) and event["task_id"] == report.task_id, (seen, text)
    assert seen.get("elsewhere") == 403, seen
    assert port_free("127.0.0.1", port)  # the app stopped with the demo
