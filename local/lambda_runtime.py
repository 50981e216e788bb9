"""Loads each function's handler from its CodeUri and invokes it like Lambda would: in one execution
environment at a time, or (a queue consumer with a maximum concurrency) in up to that many at once, each
with its own copy of the handler's module."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from local.template import FunctionSpec


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    invoked_function_arn: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        if STOPPING.is_set():  # the stack is stopping: handlers hand over at their next chance (the engine
            return 0  # stores its checkpoint and continues in a message, as when time runs out)
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# Set when the local stack stops: every invocation's remaining time reads 0 from then on.
STOPPING = threading.Event()
_invoking = threading.local()
# Handlers load one at a time: two threads importing the shared package at once can each meet the other's
# partly initialised module ("cannot import name … from partially initialized module").
_LOADING = threading.Lock()


class FunctionLoadError(Exception):
    """The function's handler could not be loaded (Lambda's Runtime.ImportModuleError)."""


def invoking() -> str | None:
    """The logical id of the function whose handler runs on this thread (None outside any)."""
    return getattr(_invoking, "function", None)


class LocalFunction:
    """One function's execution environments: each loads the handler's module once and runs one invocation
    at a time; ``concurrency`` environments at most (Lambda's concurrency for the function), made as needed."""

    def __init__(self, spec: FunctionSpec, region: str = "us-east-1", account: str = "123456789012"):
        self.spec = spec
        self.region = region
        self.account = account
        self.concurrency = 1
        self._idle: list[Callable[[dict, Any], Any]] = []  # loaded environments not running an invocation
        self._made = 0
        self._running = 0
        self._free = threading.Condition()
        self._handler: Callable[[dict, Any], Any] | None = None  # the first environment's handler

    def _load(self) -> Callable[[dict, Any], Any]:
        """A free environment's handler, made (loaded) when every one is busy and fewer than ``concurrency``
        exist; waits for one to be free otherwise."""
        with self._free:
            while not self._idle and self._made >= self.concurrency:
                self._free.wait()
            if self._idle:
                self._running += 1
                return self._idle.pop()
            self._made += 1
            self._running += 1
            number = self._made
        try:
            with _LOADING:
                handler = self._import(number)
        except Exception as error:
            with self._free:
                self._made -= 1
                self._running -= 1
                self._free.notify()
            raise FunctionLoadError(f"{self.spec.logical_id}: {type(error).__name__}: {error}") from error
        if number == 1:
            self._handler = handler
        return handler

    def handler(self) -> Callable[[dict, Any], Any]:
        """The first environment's handler, loaded if need be (to call it outside ``invoke``: as a second,
        concurrent environment would, or to read what it declares)."""
        if self._handler is None:
            self._release(self._load())
        assert self._handler is not None
        return self._handler

    def _release(self, handler: Callable[[dict, Any], Any]) -> None:
        with self._free:
            self._running -= 1
            self._idle.append(handler)
            self._free.notify()

    def _import(self, number: int = 1) -> Callable[[dict, Any], Any]:
        module_name, function_name = self.spec.handler.rsplit(".", 1)
        path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
        unique = f"synchub_fn_{self.spec.logical_id}" + (f"_{number}" if number > 1 else "")
        loader_spec = importlib.util.spec_from_file_location(unique, path)
        assert loader_spec and loader_spec.loader, f"cannot load {path}"
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[unique] = module
        loader_spec.loader.exec_module(module)
        return getattr(module, function_name)

    @property
    def busy(self) -> bool:
        """Whether an invocation is running."""
        return self._running > 0

    def context(self) -> LambdaContext:
        name = self.spec.logical_id
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=self.spec.memory,
            timeout_seconds=self.spec.timeout,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{self.account}:function:{name}",
            log_group_name=f"/aws/lambda/{name}",
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._load()
        outer = invoking()
        _invoking.function = self.spec.logical_id
        try:
            return handler(event, self.context())
        finally:
            _invoking.function = outer
            self._release(handler)
