"""Kafka as a source (kafka-python, pure Python so the layer ships on arm64): one topic, read by explicit
partition assignment.

A sync reads each partition from its start offset to the high-water mark taken when the sync (or a realtime
poll) started: a bounded snapshot. Start offsets are the earliest (full sync) or the positions the last
successful sync of the same (data source, interface) ended at (incremental and realtime: the committed
watermark, a map partition -> next offset). The positions after each batch are the source state, stored in
the checkpoint only once the part holding the batch is written, so a crash or redelivery re-reads from there
and every record lands exactly once. No consumer group joins (no rebalances inside a Lambda run); with
``consumer_group`` set, the positions written are also committed to that group so lag tools see them.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from kafka import KafkaConsumer, TopicPartition, errors
from kafka.structs import OffsetAndMetadata

from synchub.connectors.base import Batch, PermanentSourceError, SourceErrors, StreamSpec, TransientSourceError, dig
from synchub.models.data_sources import bootstrap_servers
from synchub.observability import logger

# How long a read waits for records that the high-water mark says exist before it calls the broker stuck.
STALL_SECONDS = 30.0


class KafkaSource:
    def __init__(self, connection: dict[str, Any], stream: StreamSpec, *, incremental: bool):
        if not stream.topic:
            raise PermanentSourceError("a Kafka stream names its topic (params_config.topic)")
        self.config = connection
        self.stream = stream
        self.incremental = incremental
        self._consumer: Any = None
        self._partitions: list[Any] | None = None
        self._committed: dict[str, int] | None = None

    # ---- connection and errors -----------------------------------------------------------------
    def consumer(self) -> Any:
        if self._consumer is None:
            config = self.config
            options: dict[str, Any] = {
                "bootstrap_servers": bootstrap_servers(config),
                "client_id": "synchub",
                "group_id": self.stream.consumer_group,
                "enable_auto_commit": False,
                "auto_offset_reset": "earliest",
                "security_protocol": config.get("security_protocol") or "PLAINTEXT",
                "bootstrap_timeout_ms": int(float(config.get("connect_timeout") or 10) * 1000),
                "request_timeout_ms": 30_000,
                "max_partition_fetch_bytes": 4 * 1024 * 1024,
            }
            if options["security_protocol"].startswith("SASL"):
                options.update(
                    sasl_mechanism=config.get("sasl_mechanism") or "PLAIN",
                    sasl_plain_username=config.get("username"),
                    sasl_plain_password=config.get("password"),
                )
            self._consumer = self._guarded(lambda: KafkaConsumer(**options))
        return self._consumer

    def _guarded(self, call: Any) -> Any:
        """``call()``, its Kafka failures as transient (unreachable, leaderless) or permanent (auth, config)."""
        with SourceErrors(self._classify):
            return call()

    def _classify(self, error: Exception) -> Exception | None:
        if isinstance(
            error,
            (
                errors.AuthorizationError,
                errors.SaslAuthenticationFailedError,
                errors.UnsupportedSaslMechanismError,
                errors.IllegalSaslStateError,
            ),
        ):
            return PermanentSourceError(f"Kafka refused the client: {error}")
        if isinstance(error, errors.KafkaConfigurationError):
            return PermanentSourceError(f"Kafka connection settings: {error}")
        if isinstance(error, (errors.KafkaTimeoutError, errors.KafkaConnectionError)):
            self.close()
            hint = ""
            if str(self.config.get("security_protocol") or "").startswith("SASL"):
                # kafka-python retries a refused SASL login until its bootstrap times out, like an unreachable broker
                hint = " (or it refused the SASL login: check username, password and sasl_mechanism)"
            return TransientSourceError(
                f"Kafka unreachable at {', '.join(bootstrap_servers(self.config))}{hint}: {type(error).__name__}"
            )
        if isinstance(error, errors.KafkaError):
            if getattr(error, "retriable", False) or isinstance(error, errors.InvalidMetadataError):
                self.close()
                return TransientSourceError(f"Kafka: {error}")
            return PermanentSourceError(f"Kafka: {error}")
        return None

    def partitions(self) -> list[Any]:
        """The topic's partitions, assigned to this consumer (no group membership)."""
        if self._partitions is None:
            topic = self.stream.topic or ""
            consumer = self.consumer()
            numbers = self._guarded(lambda: consumer.partitions_for_topic(topic))
            if not numbers:
                raise PermanentSourceError(f"Kafka has no topic '{topic}'")
            self._partitions = [TopicPartition(topic, number) for number in sorted(numbers)]
            self._guarded(lambda: consumer.assign(self._partitions))
        return self._partitions

    def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer, self._partitions = self._consumer, None, None
            try:
                self._commit_to_group(consumer)
            finally:
                consumer.close(autocommit=False)

    # ---- reading --------------------------------------------------------------------------------
    def read(
        self, state: dict[str, Any] | None, batch_size: int, watermark: Any = None, delivered: Any = ()
    ) -> Batch:  # positions are unique: nothing is delivered at the watermark twice
        partitions = self.partitions()
        consumer = self.consumer()
        starting = state is None
        if state is None:
            state = self._snapshot(partitions, watermark)
        positions = {key: int(value) for key, value in state["next"].items()}
        end = {key: int(value) for key, value in state["end"].items()}
        fixed = set(state.get("fixed") or ())
        ends_before = dict(end)
        for tp in partitions:
            key = str(tp.partition)
            if positions[key] >= end[key]:
                consumer.pause(tp)
            else:
                consumer.resume(tp)
                if self._guarded(lambda: consumer.position(tp)) != positions[key]:
                    consumer.seek(tp, positions[key])
        rows: list[dict[str, Any]] = []
        waited_since = time.monotonic()
        while len(rows) < batch_size and any(positions[k] < end[k] for k in end):
            polled = self._guarded(
                lambda: consumer.poll(timeout_ms=500, max_records=batch_size - len(rows), update_offsets=True)
            )
            for tp in partitions:
                key = str(tp.partition)
                if key not in fixed and consumer.highwater(tp) is not None:
                    # A Fetch answer's high-water mark is the broker's own; some Kafka-compatible brokers answer
                    # ListOffsets with the last batch's base offset + 1 instead.
                    end[key] = max(end[key], consumer.highwater(tp))
                    fixed.add(key)
            taken = 0
            for tp, records in polled.items():
                key = str(tp.partition)
                for record in records:
                    if record.offset >= end[key]:
                        break
                    rows.append(self._row(record))
                    taken += 1
                positions[key] = max(positions[key], min(end[key], self._guarded(lambda: consumer.position(tp))))
                if positions[key] >= end[key]:
                    consumer.pause(tp)
            if taken:
                waited_since = time.monotonic()
            elif time.monotonic() - waited_since > STALL_SECONDS:
                raise TransientSourceError(
                    f"Kafka returned no records of topic '{self.stream.topic}' for "
                    f"{STALL_SECONDS:.0f} s although its high-water marks say more exist"
                )
        done = all(positions[k] >= end[k] for k in end)
        start = {key: int(value) for key, value in state["start"].items()}
        total = sum(end[key] - start[key] for key in end) if starting or end != ends_before else None
        next_state = None if done else {"next": positions, "end": end, "start": start, "fixed": sorted(fixed)}
        return Batch(rows, next_state, total, cursor=positions)

    def _snapshot(self, partitions: list[Any], watermark: Any) -> dict[str, Any]:
        """Where a sync (or a realtime poll) starts and ends: from the watermark's positions (else the earliest
        offsets) to the high-water marks now."""
        consumer = self.consumer()
        earliest = self._guarded(lambda: consumer.beginning_offsets(partitions))
        latest = self._guarded(lambda: consumer.end_offsets(partitions))
        since = watermark if isinstance(watermark, dict) else {}
        start = {str(tp.partition): max(int(earliest[tp]), int(since.get(str(tp.partition)) or 0)) for tp in partitions}
        return {
            "next": start,
            "start": start,
            "end": {key: max(start[key], int(latest[tp])) for key, tp in zip(start, partitions)},
        }

    def _row(self, record: Any) -> dict[str, Any]:
        value = self._value(record)
        key = record.key.decode("utf-8", "replace") if isinstance(record.key, bytes) else record.key
        if self.stream.key_field and key is None and isinstance(value, dict):
            found = dig(value, self.stream.key_field)
            key = None if found is None else str(found)
        return {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "timestamp": datetime.fromtimestamp(record.timestamp / 1000, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            )
            if record.timestamp and record.timestamp > 0
            else None,
            "key": key,
            "value": value,
        }

    def _value(self, record: Any) -> Any:
        raw = record.value
        if raw is None:
            return None
        text = raw.decode("utf-8", "replace")
        if self.stream.value_format == "text":
            return text
        try:
            return json.loads(text)
        except ValueError as error:
            raise PermanentSourceError(
                f"record {record.partition}/{record.offset} of topic '{record.topic}' is not JSON ({error}): "
                "set value_format to text to copy values as text"
            ) from error

    # ---- consumer group (optional) -------------------------------------------------------------
    def acknowledge(self, state: dict[str, Any] | None, cursor: Any = None) -> None:
        """Positions whose records are written: committed to ``consumer_group`` (if any) when the source closes."""
        if self.stream.consumer_group and isinstance(cursor, dict):
            self._committed = {key: int(value) for key, value in cursor.items()}

    def _commit_to_group(self, consumer: Any) -> None:
        if not self.stream.consumer_group or not self._committed:
            return
        offsets = {
            TopicPartition(self.stream.topic, int(key)): OffsetAndMetadata(value, "synchub", -1)
            for key, value in self._committed.items()
        }
        try:
            consumer.commit(offsets)
        except Exception:  # noqa: BLE001 - the group's offsets only inform lag tools; the checkpoint is the truth
            logger.warning(
                "could not commit offsets to the consumer group",
                exc_info=True,
                extra={"consumer_group": self.stream.consumer_group},
            )
