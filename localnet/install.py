"""Build the pinned wasmd and Kubo releases from the Go module proxy into the per-user cache, and
unpack Debian's nginx (the keeper's TLS gateway) beside them.

Both modules carry `replace`/`exclude` directives, which `go install pkg@version` refuses, so the
route is: download the module source from the proxy, copy it somewhere writable, `go build` there.
A binary lives at `<cache>/bin/<name>-<version>/` and is reused whenever it is present, so a fresh
clone (as CI makes) costs nothing after the first build.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chain_config import Versions, cache_dir

WASMD_MODULE = "github.com/CosmWasm/wasmd"
WASMVM_MODULE = "github.com/CosmWasm/wasmvm/v3"
KUBO_MODULE = "github.com/ipfs/kubo"


class InstallError(RuntimeError):
    """A build step failed; the message names the step and its log file."""


@dataclass(frozen=True)
class Binary:
    name: str
    version: str
    module: str
    package: str
    ldflags: str = ""
    tags: str = ""

    @property
    def directory(self) -> Path:
        return cache_dir() / "bin" / f"{self.name}-{self.version}"

    @property
    def path(self) -> Path:
        return self.directory / self.name


def wasmd_binary(versions: Versions = Versions()) -> Binary:
    ldflags = " ".join(
        [
            "-X github.com/cosmos/cosmos-sdk/version.Name=wasm",
            "-X github.com/cosmos/cosmos-sdk/version.AppName=wasmd",
            f"-X github.com/cosmos/cosmos-sdk/version.Version={versions.wasmd}",
        ]
    )
    return Binary("wasmd", versions.wasmd, WASMD_MODULE, "./cmd/wasmd", ldflags, "netgo")


def kubo_binary(versions: Versions = Versions()) -> Binary:
    return Binary("ipfs", versions.kubo, KUBO_MODULE, "./cmd/ipfs")


def wasmd_env(versions: Versions = Versions()) -> dict[str, str]:
    """Environment for running wasmd: libwasmvm sits beside the binary."""
    env = dict(os.environ)
    lib_dir = str(wasmd_binary(versions).directory)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [lib_dir, env.get("LD_LIBRARY_PATH")]))
    return env


def _say(message: str) -> None:
    print(f"[install] {message}", flush=True)


def _go() -> str:
    go = shutil.which("go")
    if not go:
        raise InstallError("the Go toolchain is missing: install Go >= 1.26.5 (setup.sh does this)")
    return go


def _module_dir(module: str, version: str) -> Path:
    """Download a module's source through the Go module proxy and return its (read-only) dir."""
    out = subprocess.run(
        [_go(), "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        cwd=cache_dir(),
    )
    info = json.loads(out.stdout or "{}")
    if out.returncode != 0 or "Dir" not in info:
        raise InstallError(f"go mod download {module}@{version} failed: {info.get('Error') or out.stderr}")
    return Path(info["Dir"])


def _build(binary: Binary) -> None:
    """Copy the module source to a writable place and compile it, with progress lines."""
    source = _module_dir(binary.module, binary.version)
    work = cache_dir() / "build" / f"{binary.name}-{binary.version}"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(source, work)
    for path in [work, *work.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    binary.directory.mkdir(parents=True, exist_ok=True)
    log_path = cache_dir() / "build" / f"{binary.name}-{binary.version}.log"
    command = [_go(), "build", "-mod=mod", "-v", "-trimpath", "-o", str(binary.path) + ".tmp"]
    if binary.tags:
        command += ["-tags", binary.tags]
    if binary.ldflags:
        command += ["-ldflags", binary.ldflags]
    command.append(binary.package)
    _say(f"building {binary.name} {binary.version} (first build takes several minutes; log: {log_path})")
    started = time.monotonic()
    compiled = 0
    last_report = started
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            compiled += 1
            now = time.monotonic()
            if now - last_report >= 15:
                _say(f"  {binary.name}: {compiled} packages built, {now - started:.0f}s, now {line.strip()}")
                last_report = now
        code = process.wait()
    if code != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-15:])
        raise InstallError(f"building {binary.name} {binary.version} failed (log: {log_path}):\n{tail}")
    os.replace(str(binary.path) + ".tmp", binary.path)
    shutil.rmtree(work, ignore_errors=True)
    _say(f"built {binary.name} {binary.version} in {time.monotonic() - started:.0f}s -> {binary.path}")


@contextmanager
def _one_builder(binary: Binary) -> Iterator[None]:
    """Hold the binary's build lock: two commands started at once (a test suite and a demo, say)
    must not build into the same folder; the second waits and then finds the binary built."""
    lock = cache_dir() / "build" / f"{binary.name}-{binary.version}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_wasmd(versions: Versions = Versions()) -> Path:
    binary = wasmd_binary(versions)
    library = binary.directory / "libwasmvm.x86_64.so"
    if binary.path.exists() and library.exists():
        return binary.path
    with _one_builder(binary):
        if binary.path.exists() and library.exists():
            return binary.path
        _build(binary)
        wasmvm = _module_dir(WASMVM_MODULE, versions.wasmvm)
        shutil.copyfile(wasmvm / "internal" / "api" / "libwasmvm.x86_64.so", library)
    out = subprocess.run([str(binary.path), "version"], capture_output=True, text=True, env=wasmd_env(versions))
    if out.returncode != 0:
        raise InstallError(f"built wasmd does not run: {out.stderr.strip()}")
    return binary.path


def ensure_kubo(versions: Versions = Versions()) -> Path:
    binary = kubo_binary(versions)
    if binary.path.exists():
        return binary.path
    with _one_builder(binary):
        if not binary.path.exists():
            _build(binary)
    return binary.path


def nginx_path() -> Path:
    return cache_dir() / "bin" / "nginx" / "usr" / "sbin" / "nginx"


def ensure_nginx() -> Path:
    """Debian's nginx package, downloaded with apt and unpacked into the cache (not installed: no
    system service is started, nothing outside the cache changes). Its libraries (OpenSSL, PCRE2,
    zlib) are the system's."""
    path = nginx_path()
    if path.exists():
        return path
    folder = path.parents[2]
    with _one_builder(Binary("nginx", "debian", "", "")):
        if path.exists():
            return path
        download = cache_dir() / "nginx-download"
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        fetched = subprocess.run(["apt-get", "download", "nginx"], cwd=download, capture_output=True, text=True)
        if fetched.returncode != 0:  # package lists never fetched on this machine
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            fetched = subprocess.run(["apt-get", "download", "nginx"], cwd=download, capture_output=True, text=True)
        packages = list(download.glob("nginx_*.deb"))
        if fetched.returncode != 0 or not packages:
            raise InstallError(f"apt-get download nginx failed: {fetched.stderr.strip()}")
        staging = folder.with_name("nginx.partial")
        shutil.rmtree(staging, ignore_errors=True)
        unpacked = subprocess.run(["dpkg-deb", "-x", str(packages[0]), str(staging)], capture_output=True, text=True)
        if unpacked.returncode != 0:
            raise InstallError(f"dpkg-deb -x {packages[0].name} failed: {unpacked.stderr.strip()}")
        staging.rename(folder)
        shutil.rmtree(download, ignore_errors=True)
    version = subprocess.run([str(path), "-v"], capture_output=True, text=True)
    if version.returncode != 0:
        raise InstallError(f"the unpacked nginx does not run: {version.stderr.strip()}")
    return path


def main() -> int:
    cache_dir().mkdir(parents=True, exist_ok=True)
    try:
        for ensure in (ensure_wasmd, ensure_kubo, ensure_nginx):
            path = ensure()
            _say(f"ready: {path}")
    except InstallError as error:
        print(f"[install] error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
