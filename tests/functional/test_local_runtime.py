"""The local stack's Lambda runtime: handlers load one at a time (two threads importing the shared package at
once met each other's partly initialised modules), and a batch whose handler cannot load goes back to its
queue at once, not after the queue's visibility timeout (5,400 s for the engine)."""

from __future__ import annotations

import dataclasses
import json
import threading

import boto3

from local.lambda_runtime import LocalFunction
from local.stack import QueueEventSource
from tests.conftest import FUNCTIONS


def test_a_batch_whose_handler_cannot_load_is_visible_again_at_once(aws, tmp_path):
    (tmp_path / "app.py").write_text("raise ImportError('cannot import name SQSEvent (partially initialized)')\n")
    engine = FUNCTIONS["SyncEngineFunction"]
    broken = LocalFunction(dataclasses.replace(engine.spec, code_dir=tmp_path))
    props = engine.spec.events_of("SQS")[0]
    source = QueueEventSource.from_template(broken, props, aws, boto3.client("sqs"))
    boto3.client("sqs").send_message(QueueUrl=source.queue_url, MessageBody=json.dumps({"task_id": "task_x"}))
    assert source.poll_once() == 1
    again = boto3.client("sqs").receive_message(QueueUrl=source.queue_url, WaitTimeSeconds=0)
    assert [json.loads(m["Body"]) for m in again.get("Messages", [])] == [{"task_id": "task_x"}]


def test_handlers_load_one_at_a_time(monkeypatch):
    """While one handler is being imported, another function's first invocation waits for it."""
    first, second = (LocalFunction(FUNCTIONS[name].spec) for name in ("SyncEngineFunction", "GetTaskFunction"))
    inside, release, order = threading.Event(), threading.Event(), []

    def slow_import(self, number=1):
        order.append(f"{self.spec.logical_id} in")
        if self is first:
            inside.set()
            release.wait(5)
        order.append(f"{self.spec.logical_id} out")
        return lambda event, context: None

    monkeypatch.setattr(LocalFunction, "_import", slow_import)
    loading = threading.Thread(target=first._load)
    loading.start()
    assert inside.wait(5)
    waiting = threading.Thread(target=second._load)
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and order == ["SyncEngineFunction in"]  # the second waits for the first
    release.set()
    loading.join(5)
    waiting.join(5)
    assert order == ["SyncEngineFunction in", "SyncEngineFunction out", "GetTaskFunction in", "GetTaskFunction out"]


def test_a_function_runs_up_to_its_concurrency_at_once_each_in_its_own_environment(monkeypatch):
    """Three environments run three invocations at once, each with a module of its own (its globals, as a
    Powertools BatchProcessor, are not shared); a fourth invocation waits for one of them to be free."""
    function = LocalFunction(FUNCTIONS["GetTaskFunction"].spec)
    function.concurrency = 3
    entered, release, modules = threading.Semaphore(0), threading.Event(), []

    def environment(self, number=1):
        def handler(event, context):
            modules.append(number)
            entered.release()
            release.wait(5)
            return number

        return handler

    monkeypatch.setattr(LocalFunction, "_import", environment)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(function.invoke({}))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        assert entered.acquire(timeout=5)
    assert not entered.acquire(timeout=0.3)  # the fourth waits: three environments at most
    assert sorted(modules) == [1, 2, 3] and function.busy
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 4 and set(results) == {1, 2, 3}  # the fourth ran in an environment made before
    assert not function.busy
