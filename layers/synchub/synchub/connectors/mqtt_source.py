"""MQTT as a source (paho-mqtt 2, MQTT 5): messages of a topic filter.

Incremental and realtime syncs keep a persistent session: one client id per (data source, interface),
``clean_start`` false and a session expiry, subscribed at QoS 1, so the broker holds the filter's messages
while no engine run is connected. A run drains what the broker sends until the batch is full or nothing came
for ``idle_seconds``, and acknowledges a message (manual PUBACK) only once the checkpoint after the part
holding it is stored. A message the engine never acknowledged (a crash, a lost run, a read-ahead dropped) is
sent again on the next connection, flagged ``duplicate``: nothing is lost, and a message can land twice when
the engine stopped after storing its checkpoint and before acknowledging it (at least once).

A full sync reads the retained messages under the filter (each topic's current value) with a clean session,
in topic order.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from synchub.connectors.base import Batch, PermanentSourceError, StreamSpec, TransientSourceError
from synchub.timeutil import now_iso

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
RECEIVE_MAXIMUM = 65535  # unacknowledged QoS 1 messages the broker may send at once (acks wait for the part)
PERMANENT_CONNACK = frozenset({128, 129, 130, 132, 133, 134, 135, 138, 140, 149, 153, 154})


class MqttSource:
    def __init__(self, connection: dict[str, Any], stream: StreamSpec, *, incremental: bool, session_id: str):
        if not stream.topic_filter:
            raise PermanentSourceError("an MQTT stream names its topic_filter (params_config.topic_filter)")
        self.config = connection
        self.stream = stream
        self.persistent = incremental
        self.client_id = session_id if incremental else f"synchub-snapshot-{uuid.uuid4().hex[:12]}"
        self._client: Any = None
        self._inbox: queue.Queue = queue.Queue()
        self._unacknowledged: list[tuple[int, int, int]] = []  # (batch number, message id, qos)
        self._batches = 0
        self._retained: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # ---- connection -----------------------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        config = self.config
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if config.get("username"):
            client.username_pw_set(config["username"], config.get("password"))
        if config.get("tls"):
            client.tls_set()
        answers: dict[str, Any] = {}
        connected, subscribed = threading.Event(), threading.Event()

        def on_connect(_client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
            answers["connack"] = reason
            connected.set()

        def on_subscribe(_client: Any, _userdata: Any, _mid: int, reasons: list[Any], _properties: Any) -> None:
            answers["suback"] = reasons
            subscribed.set()

        client.on_connect, client.on_subscribe = on_connect, on_subscribe
        client.on_message = lambda _client, _userdata, message: self._inbox.put(message)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS if self.persistent else 0
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        host, port = config["host"], int(config.get("port") or (8883 if config.get("tls") else 1883))
        timeout = float(config.get("connect_timeout") or 10)
        try:
            client.connect(host, port, keepalive=60, clean_start=not self.persistent, properties=properties)
        except OSError as error:
            raise TransientSourceError(f"MQTT broker unreachable at {host}:{port}: {error}") from error
        client.loop_start()
        try:
            if not connected.wait(timeout):
                raise TransientSourceError(
                    f"MQTT broker at {host}:{port} did not answer the connection in {timeout:g} s"
                )
            reason = answers["connack"]
            if reason.is_failure:
                kind = PermanentSourceError if reason.value in PERMANENT_CONNACK else TransientSourceError
                raise kind(f"MQTT broker refused the connection: {reason}")
            if not self.stream.topic_filter:
                raise PermanentSourceError("the stream names no topic_filter to subscribe to")
            try:
                client.subscribe(
                    self.stream.topic_filter,
                    options=SubscribeOptions(
                        qos=self.stream.qos,
                        retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND
                        if self.persistent
                        else SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE,
                    ),
                )
            except ValueError as error:
                raise PermanentSourceError(
                    f"invalid MQTT topic filter '{self.stream.topic_filter}': {error}"
                ) from error
            if not subscribed.wait(timeout):
                raise TransientSourceError("MQTT broker did not answer the subscription")
            refused = [reason for reason in answers["suback"] if reason.is_failure]
            if refused:
                raise PermanentSourceError(
                    f"MQTT broker refused the subscription to '{self.stream.topic_filter}': {refused[0]}"
                )
        except BaseException:
            client.loop_stop()
            client.disconnect()
            raise
        return client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.disconnect()  # the session (and what it was sent but not acknowledged) stays with the broker
            finally:
                client.loop_stop()

    # ---- reading --------------------------------------------------------------------------------
    def read(
        self, state: dict[str, Any] | None, batch_size: int, watermark: Any = None, delivered: Any = ()
    ) -> Batch:  # positions are unique: nothing is delivered at the watermark twice
        if not self.persistent:
            return self._read_retained(state, batch_size)
        self.client()
        with self._lock:
            self._batches = max(self._batches, int((state or {}).get("batch") or 0)) + 1
            number = self._batches
        rows: list[dict[str, Any]] = []
        while len(rows) < batch_size:
            try:
                message = self._inbox.get(timeout=self.stream.idle_seconds)
            except queue.Empty:
                break
            rows.append(self._row(message))
            if message.qos > 0:
                with self._lock:
                    self._unacknowledged.append((number, message.mid, message.qos))
        return Batch(rows, {"batch": number} if len(rows) == batch_size else None)

    def acknowledge(self, state: dict[str, Any] | None, cursor: Any = None) -> None:
        """Acknowledge the messages of every batch up to the one ``state`` follows (all of them when the
        checkpoint ends a drain)."""
        if self._client is None:
            return
        last = int(state["batch"]) if state and state.get("batch") else None
        with self._lock:
            due = [entry for entry in self._unacknowledged if last is None or entry[0] <= last]
            self._unacknowledged = [entry for entry in self._unacknowledged if entry not in due]
        for _number, mid, qos in due:
            self._client.ack(mid, qos)

    def _read_retained(self, state: dict[str, Any] | None, batch_size: int) -> Batch:
        if self._retained is None:
            self.client()
            found: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + max(self.stream.idle_seconds, 1.0) * 30
            while time.monotonic() < deadline:
                try:
                    message = self._inbox.get(timeout=self.stream.idle_seconds)
                except queue.Empty:
                    break
                if message.retain:
                    found[message.topic] = self._row(message)
            self._retained = [found[topic] for topic in sorted(found)]
            self.close()
        start = int((state or {}).get("offset") or 0)
        rows = self._retained[start : start + batch_size]
        more = start + batch_size < len(self._retained)
        return Batch(
            rows, {"offset": start + batch_size} if more else None, len(self._retained) if state is None else None
        )

    def _row(self, message: Any) -> dict[str, Any]:
        return {
            "topic": message.topic,
            "value": self._value(message),
            "qos": message.qos,
            "retain": bool(message.retain),
            "duplicate": bool(message.dup),
            "received_at": now_iso(),
        }

    def _value(self, message: Any) -> Any:
        text = bytes(message.payload).decode("utf-8", "replace")
        if self.stream.value_format == "text":
            return text
        try:
            return json.loads(text) if text else None
        except ValueError as error:
            raise PermanentSourceError(
                f"a message on '{message.topic}' is not JSON ({error}): set value_format to "
                "text to copy payloads as text"
            ) from error
