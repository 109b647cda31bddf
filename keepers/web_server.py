"""The web app (`web/`) served from Python: built once per source hash, then `next start`.

`next build` runs on a copy of the app's sources in `web/.cache/fedchain-web-build` (inside the
clone, so Turbopack resolves `web/node_modules` and nothing tracked is touched) and its output is
kept under `${XDG_CACHE_HOME:-~/.cache}/fedchain/web/<hash>`, the hash covering every file the build
reads and the lock file. A fresh clone with the same sources reuses it; only `npm ci` is per clone.
The cached folder is what `next start` serves from: the build, the app's package.json and
next.config.ts, and a `node_modules` link to the clone's. Everything network-specific reaches the
app as FEDCHAIN_* variables at run time, so one build serves any chain.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chain_config import REPO_ROOT, LocalnetConfig, Network
from localnet.processes import ManagedProcess, port_free, spawn, tail

WEB_DIR = REPO_ROOT / "web"
# What `next build` reads (tests/, scripts/ and the linters' files are not part of the app).
BUILD_INPUTS = ("src", "public", "next.config.ts", "tsconfig.json", "package.json", "package-lock.json")
SERVED_FILES = ("package.json", "next.config.ts")  # beside the build output, for `next start`
STAGING = Path(".cache") / "fedchain-web-build"  # inside web/: the build's project folder
KEEP_BUILDS = 4  # older builds (~17 MB each) are removed when a new one is made


class WebError(RuntimeError):
    """The web app could not be built or served; the message says why and what to do."""


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fedchain" / "web"


def input_files(web: Path) -> list[Path]:
    """Every file the build reads, relative to `web`, in a stable order."""
    files: list[Path] = []
    for name in BUILD_INPUTS:
        path = web / name
        if path.is_dir():
            files.extend(sorted(p.relative_to(web) for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            files.append(Path(name))
    return files


def source_hash(web: Path = WEB_DIR) -> str:
    """A hash of the app's sources and lock file: the build's cache key."""
    digest = hashlib.sha256()
    for relative in input_files(web):
        data = (web / relative).read_bytes()
        digest.update(f"{relative.as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise WebError("npm is missing: install Node.js 20 (apt-get install nodejs npm), then rerun")
    return npm


def ensure_dependencies(web: Path = WEB_DIR, report: Callable[[str], None] = print) -> None:
    """`npm ci` from the committed lock file when `web/node_modules` lacks Next.js."""
    if (web / "node_modules" / "next" / "package.json").is_file():
        return
    report("installing the web app's dependencies (npm ci, from package-lock.json)…")
    result = subprocess.run([_npm(), "ci", "--no-audit", "--no-fund"], cwd=web, capture_output=True, text=True)
    if result.returncode != 0:
        raise WebError(f"npm ci failed in {web}:\n{(result.stdout + result.stderr)[-2000:]}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder per cache folder at a time (a second waits, then finds the build made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _link_node_modules(app: Path, web: Path) -> None:
    """Points the served folder's node_modules at this clone's (replaced atomically when it moved)."""
    link = app / "node_modules"
    target = (web / "node_modules").resolve()
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    staged = app / f".node_modules-{os.getpid()}"
    staged.unlink(missing_ok=True)
    staged.symlink_to(target, target_is_directory=True)
    os.replace(staged, link)


def ensure_build(web: Path = WEB_DIR, report: Callable[[str], None] = print) -> Path:
    """The folder `next start` serves the current sources from, built first if no cache has them."""
    if not (web / "package.json").is_file():
        raise WebError(f"no web app at {web}")
    ensure_dependencies(web, report)
    key = source_hash(web)
    app = cache_root() / key
    with _locked(cache_root() / f"{key}.lock"):
        if not (app / ".next" / "BUILD_ID").is_file():
            _build(web, app, report)
        _link_node_modules(app, web)
    return app


def _build(web: Path, app: Path, report: Callable[[str], None]) -> None:
    staging = web / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for relative in input_files(web):
        if relative.name == "package-lock.json":
            continue  # without a lock file here, Turbopack's root stays web/ and finds web/node_modules
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(web / relative, staging / relative)
    report(f"building the web app (next build; cached as {app})…")
    started = time.monotonic()
    next_bin = web / "node_modules" / "next" / "dist" / "bin" / "next"
    env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1"}
    result = subprocess.run(["node", str(next_bin), "build"], cwd=staging, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise WebError(f"next build failed:\n{(result.stdout + result.stderr)[-4000:]}")
    shutil.rmtree(staging / ".next" / "cache", ignore_errors=True)  # the compiler's cache: not served
    partial = app.with_name(f"{app.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.move(staging / ".next", partial / ".next")
    for name in SERVED_FILES:
        shutil.copy2(web / name, partial / name)
    shutil.rmtree(app, ignore_errors=True)
    os.replace(partial, app)
    shutil.rmtree(staging, ignore_errors=True)
    report(f"built the web app in {time.monotonic() - started:.0f} s")
    _prune(app.parent, keep=app)


def _prune(root: Path, keep: Path) -> None:
    """Removes all but the KEEP_BUILDS newest builds (a clone that needs one again builds it again)."""
    builds = sorted(
        (p for p in root.iterdir() if p.is_dir() and (p / ".next").is_dir()), key=lambda p: p.stat().st_mtime
    )
    for old in builds[:-KEEP_BUILDS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
            (root / f"{old.name}.lock").unlink(missing_ok=True)


@dataclass(frozen=True)
class WebSettings:
    """What the app needs to know about the network (web/README.md, "Configuration")."""

    contract: str
    chain_id: str
    rpc: str  # CometBFT RPC, for the browser (signing, /websocket events)
    rest: str  # Cosmos REST API (queries, balances)
    denom: str
    prefix: str
    gas_price: str  # e.g. 0.025ufed
    ipfs_api: str  # Kubo RPC, used by the app's server only
    ipfs_gateway: str
    feed: str | None = None  # a keeper's live feed, ws://…

    @staticmethod
    def for_network(
        network: Network,
        contract: str,
        rest: str,
        ipfs_api: str,
        ipfs_gateway: str,
        feed: str | None = None,
    ) -> WebSettings:
        return WebSettings(
            contract=contract,
            chain_id=network.chain_id,
            rpc=network.rpc_url,
            rest=rest.removeprefix("rest+"),
            denom=network.denom,
            prefix=network.bech32_prefix,
            gas_price=f"{network.gas_price}{network.denom}",
            ipfs_api=ipfs_api,
            ipfs_gateway=ipfs_gateway,
            feed=feed,
        )

    @staticmethod
    def for_localnet(config: LocalnetConfig, contract: str, feed: str | None = None) -> WebSettings:
        return WebSettings.for_network(
            config.network(), contract, config.rest_url(), config.kubo_api_url, localnet_gateway(config), feed
        )

    def environment(self) -> dict[str, str]:
        values = {
            "FEDCHAIN_CONTRACT": self.contract,
            "FEDCHAIN_CHAIN_ID": self.chain_id,
            "FEDCHAIN_RPC": self.rpc,
            "FEDCHAIN_REST": self.rest,
            "FEDCHAIN_DENOM": self.denom,
            "FEDCHAIN_PREFIX": self.prefix,
            "FEDCHAIN_GAS_PRICE": self.gas_price,
            "FEDCHAIN_IPFS_API": self.ipfs_api,
            "FEDCHAIN_IPFS_GATEWAY": self.ipfs_gateway,
        }
        if self.feed:
            values["FEDCHAIN_FEED"] = self.feed
        return values


def app_origins(port: int) -> tuple[str, ...]:
    """The origins a browser sends from an app served on 127.0.0.1:port (opened by either name)."""
    return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")


def localnet_gateway(config: LocalnetConfig) -> str:
    return f"http://{config.kubo_host}:{config.kubo_ports.gateway}"


@dataclass
class WebServer:
    """A running `next start`."""

    url: str  # also the page origin a keeper's feed must allow
    process: ManagedProcess

    def stop(self) -> None:
        self.process.stop()


def start_web(
    app: Path,
    settings: WebSettings,
    port: int,
    log: Path,
    host: str = "127.0.0.1",
    timeout: float = 60.0,
) -> WebServer:
    """Serves the built app at http://host:port and waits until it answers."""
    if not port_free(host, port):
        raise WebError(f"port {port} on {host} is in use: choose another with --port")
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEDCHAIN_")}
    env.update(settings.environment(), NEXT_TELEMETRY_DISABLED="1")
    next_bin = app / "node_modules" / "next" / "dist" / "bin" / "next"
    process = spawn("web", ["node", str(next_bin), "start", str(app), "-H", host, "-p", str(port)], log, env)
    server = WebServer(f"http://{host}:{port}", process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise WebError(f"next start exited with {process.process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{server.url}/", timeout=5):
                return server
        except urllib.error.HTTPError:
            return server  # it answers (an error page still means the server is up)
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise WebError(f"the web app did not answer at {server.url} within {timeout:.0f} s:\n{tail(log)}")
