"""What a keeper checks before it bonds stake on a task: that it can deliver it.

Accepting costs the bond if the task is then never delivered, and an organization could write a
task no keeper can deliver (an initial model that is no model, a client.py that is not on IPFS,
a round timeout that holds every round for a day) and collect the bond. So before bonding, by hand
or by itself, the keeper fetches both files by CID, checks them against the chain's hashes, loads
the model, checks that the metric the task names on chain is the one its client.py reports, holds
the task's round timeout to its own limit, and, for a task that pays for measured contribution,
makes sure it holds the validation set the task names.
"""

from __future__ import annotations

from pathlib import Path

from client_kit.ipfs import MAX_CLIENT_BYTES, ContentStore, IpfsError, fetch_verified
from client_kit.model_format import ModelFormatError, decode_views
from client_kit.settings import SettingsError, settings_from_source
from client_kit.task_hub import Scoring, Task
from keepers.validation import find_validation_set

DEFAULT_MAX_ROUND_TIMEOUT_S = 600


def undeliverable(
    task: Task,
    store: ContentStore,
    max_round_timeout_s: int = DEFAULT_MAX_ROUND_TIMEOUT_S,
    validation_dir: Path | None = None,
) -> str | None:
    """Why the keeper could not deliver `task`, or None when it can. A task that pays for
    measured contribution needs the validation set it names, under `validation_dir`."""
    if task.round_timeout_secs > max_round_timeout_s:
        return f"its rounds may each wait {task.round_timeout_secs} s, more than this keeper's {max_round_timeout_s} s"
    if task.scoring == Scoring.MEASURED and find_validation_set(validation_dir, task.validation_sha256 or "") is None:
        return (
            f"it pays for measured contribution on the validation set with sha256 {task.validation_sha256}, "
            "which is not under this keeper's validation folder (the organization hands it over)"
        )
    try:
        client = fetch_verified(store, task.client_cid, task.client_sha256, MAX_CLIENT_BYTES)
        decode_views(fetch_verified(store, task.initial_model_cid, task.initial_model_sha256))
        reported = settings_from_source(client).metric
    except IpfsError as error:
        return f"its files cannot be fetched and verified: {error}"
    except ModelFormatError as error:
        return f"its initial model is no model: {error}"
    except SettingsError as error:
        return f"its client.py cannot be read: {error}"
    if reported != task.metric:  # every round would record a figure under the wrong name
        return f"it names {task.metric.describe()} on chain, but its client.py reports {reported.describe()}"
    return None
