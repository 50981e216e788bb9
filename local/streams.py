"""A DynamoDB stream event source mapping, locally: read the stream, invoke the function with its records.

Like Lambda's: records in order per shard, batches of ``BatchSize``, ``ReportBatchItemFailures`` honoured
(the batch is retried from the first failed record), a batch that keeps failing given up after
``MaximumRetryAttempts``. Records have the shape Lambda gives them (``eventSourceARN``, epoch-second
``ApproximateCreationDateTime``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from local.lambda_runtime import LocalFunction
from local.resources import Stack

log = logging.getLogger("local")


@dataclass
class StreamEventSource:
    function: LocalFunction
    streams: Any  # a boto3 dynamodbstreams client
    stream_arn: str
    batch_size: int = 100
    reports_failures: bool = False
    max_retries: int = 3
    starting_position: str = "LATEST"
    iterators: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_template(
        cls, function: LocalFunction, props: dict[str, Any], stack: Stack, streams: Any
    ) -> "StreamEventSource":
        retries = int(props.get("MaximumRetryAttempts", 3))
        return cls(
            function,
            streams,
            str(stack.resolve(props["Stream"])),
            min(1000, int(props.get("BatchSize", 100))),
            "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            retries if retries >= 0 else 10_000,
            str(props.get("StartingPosition", "LATEST")),
        )

    def _shards(self) -> list[str]:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description.get("Shards", [])]

    def _iterator(self, shard: str, kind: str, sequence: str | None = None) -> str:
        params: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": kind}
        if sequence is not None:
            params["SequenceNumber"] = sequence
        return self.streams.get_shard_iterator(**params)["ShardIterator"]

    def poll_once(self) -> int:
        """One read of every shard → invocations; returns how many records were delivered."""
        delivered = 0
        for shard in self._shards():
            if shard not in self.iterators:
                self.iterators[shard] = self._iterator(shard, self.starting_position)
            response = self.streams.get_records(ShardIterator=self.iterators[shard], Limit=self.batch_size)
            records = response.get("Records", [])
            if not records:
                self.iterators[shard] = response.get("NextShardIterator") or self.iterators[shard]
                continue
            delivered += len(records)
            retry_from = self._deliver(records)
            if retry_from is None:
                self.iterators[shard] = response["NextShardIterator"]
                self.failures.pop(shard, None)
                continue
            attempts = self.failures.get(shard, 0) + 1
            if attempts > self.max_retries:
                log.error(
                    "%s: giving up on stream records from %s after %d retries",
                    self.function.spec.logical_id,
                    retry_from,
                    self.max_retries,
                )
                self.iterators[shard] = response["NextShardIterator"]
                self.failures.pop(shard, None)
                continue
            self.failures[shard] = attempts
            self.iterators[shard] = self._iterator(shard, "AT_SEQUENCE_NUMBER", retry_from)
        return delivered

    def _deliver(self, records: list[dict[str, Any]]) -> str | None:
        """Invoke with the batch; the sequence number to retry from, or None when it all went through."""
        event = {"Records": [self._lambda_record(r) for r in records]}
        first = str(records[0]["dynamodb"]["SequenceNumber"])
        try:
            response = self.function.invoke(event)
        except Exception:
            log.exception("%s failed on a stream batch; retrying it", self.function.spec.logical_id)
            return first
        if self.reports_failures and isinstance(response, dict):
            failed = [str(f.get("itemIdentifier")) for f in response.get("batchItemFailures") or []]
            if failed:
                return min(failed, key=int)
        return None

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        data = dict(record["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            data["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**record, "dynamodb": data, "eventSourceARN": self.stream_arn}

    def run(self, stop: Any, idle_seconds: float = 0.25) -> None:
        """Poll until ``stop`` (a threading.Event) is set, four times a second when idle, like Lambda."""
        while not stop.is_set():
            try:
                if not self.poll_once():
                    stop.wait(idle_seconds)
            except Exception:  # emulator shutting down, or a bug in the poller itself
                if stop.is_set():
                    return
                log.exception("polling %s failed", self.stream_arn)
                time.sleep(1)
