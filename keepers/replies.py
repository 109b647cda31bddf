"""Reading a reply's records without keeping its arrays alive.

Flower's typed views of a RecordDict (`content.array_records`, `config_records`, `metric_records`)
each refer back to the RecordDict: a reference cycle, which keeps the whole reply — arrays
included — until the garbage collector happens to run. For a keeper that would be one reply's
bytes per trainer held through a round, whatever a trainer chose to attach. So every reply the
keeper reads is read here, directly, and its arrays are released as soon as they are not needed.
"""

from __future__ import annotations

from typing import TypeVar

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

RecordT = TypeVar("RecordT", ArrayRecord, ConfigRecord, MetricRecord)


def typed(content: RecordDict, key: str, kind: type[RecordT]) -> RecordT | None:
    """content[key] if it is a `kind`, else None."""
    record = content.get(key)
    return record if isinstance(record, kind) else None


def metric_records(reply: Message) -> list[MetricRecord]:
    """The reply's MetricRecords, in order."""
    return [record for record in reply.content.values() if isinstance(record, MetricRecord)]


def release_arrays(reply: Message) -> None:
    """Drops the reply's ArrayRecords now (an error reply has none)."""
    if not reply.has_error():
        content = reply.content
        for key in [key for key, record in content.items() if isinstance(record, ArrayRecord)]:
            del content[key]
