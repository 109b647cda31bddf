"""The organization's code runs where no key, no network and no other file can be reached.

A hostile client.py probes its surroundings at import and reports what it found through the only
channel it has, an error message. Run by the task worker in the sandbox it finds nothing; run
unconfined (`--no-sandbox`) the same probes succeed, which shows they would notice a leak.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from client_kit.metrics import ACCURACY
from client_kit.sandbox import bwrap, python_paths
from client_kit.worker import TaskWorker, WorkerError
from keepers.validation import Validator

PROBE = """
import gc, json, os, socket
found = {}
try:
    found["key"] = open(KEY_FILE).read()[:12]
except OSError as error:
    found["key"] = None
try:
    found["home"] = sorted(os.listdir(HOME))[:5]
except OSError:
    found["home"] = None
try:
    with socket.create_connection(("127.0.0.1", PORT), timeout=2):
        found["network"] = True
except OSError:
    found["network"] = False
try:
    open(WRITE_TO, "w").write("x")
    found["wrote"] = True
except OSError:
    found["wrote"] = False
found["secret_env"] = os.environ.get("FEDCHAIN_PROBE_SECRET")
found["wallets"] = sum(1 for o in gc.get_objects() if type(o).__name__ == "LocalWallet")

SETTINGS = None


def build_model():
    raise RuntimeError("PROBE " + json.dumps(found))
"""


def _probe(tmp_path: Path, sandbox: bool) -> dict[str, object]:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "trainer.mnemonic").write_text("abandon abandon abandon\n")
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "d.npz", x=np.zeros((2, 4)), y=np.zeros(2, np.int64))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        source = (
            f"KEY_FILE = {str(keys / 'trainer.mnemonic')!r}\nHOME = {str(Path.home())!r}\n"
            f"PORT = {listener.getsockname()[1]}\nWRITE_TO = {str(data / 'planted.py')!r}\n" + PROBE
        ).encode()
        os.environ["FEDCHAIN_PROBE_SECRET"] = "s3cret"
        try:
            with pytest.raises(WorkerError, match="PROBE") as failure:
                TaskWorker(source, data, sandbox=sandbox)
        finally:
            del os.environ["FEDCHAIN_PROBE_SECRET"]
    return json.loads(str(failure.value).split("PROBE ", 1)[1])


@pytest.mark.skipif(bwrap() is None, reason="bubblewrap is part of the setup: apt-get install bubblewrap")
def test_the_sandboxed_task_code_reaches_no_key_no_network_no_home_and_writes_nothing(tmp_path: Path) -> None:
    found = _probe(tmp_path, sandbox=True)
    home = found.pop("home")
    assert found == {"key": None, "network": False, "wrote": False, "secret_env": None, "wallets": 0}
    assert not (tmp_path / "data" / "planted.py").exists()
    # Home holds only the empty folders leading to the bound Python installation: no .config, no keys.
    python_homes = {p.relative_to(Path.home()).parts[0] for p in python_paths() if p.is_relative_to(Path.home())}
    assert set(home) <= python_homes  # type: ignore[arg-type]


def test_unconfined_the_same_probes_find_everything(tmp_path: Path) -> None:
    found = _probe(tmp_path, sandbox=False)
    assert found["key"] == "abandon aban" and found["network"] is True and found["wrote"] is True
    assert found["secret_env"] == "s3cret"


@pytest.mark.skipif(bwrap() is None, reason="bubblewrap is part of the setup: apt-get install bubblewrap")
def test_the_keepers_validation_runs_the_task_code_apart_from_its_wallet(tmp_path: Path) -> None:
    """A crafted client.py used to find the keeper's wallet through gc, inside the ServerApp."""
    data = tmp_path / "validation"
    data.mkdir()
    np.savez(data / "d.npz", x=np.zeros((2, 4)), y=np.zeros(2, np.int64))
    (tmp_path / "k").write_text("x")
    source = (
        f"KEY_FILE = {str(tmp_path / 'k')!r}\nHOME = '/root'\nPORT = 1\nWRITE_TO = {str(tmp_path / 'w')!r}\n" + PROBE
    ).encode()
    with pytest.raises(WorkerError, match='"wallets": 0') as failure:
        Validator(source, data, ACCURACY)
    assert '"key": null' in str(failure.value) and '"network": false' in str(failure.value)
