"""Loads each function's handler from its CodeUri and invokes it like Lambda would (one at a time)."""

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
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_invoking = threading.local()


def invoking() -> str | None:
    """The logical id of the function whose handler runs on this thread (None outside any)."""
    return getattr(_invoking, "function", None)


class LocalFunction:
    """One function's execution environment: its module loaded once, invocations serialised."""

    def __init__(self, spec: FunctionSpec, region: str = "us-east-1", account: str = "123456789012"):
        self.spec = spec
        self.region = region
        self.account = account
        self._lock = threading.Lock()
        self._handler: Callable[[dict, Any], Any] | None = None

    def _load(self) -> Callable[[dict, Any], Any]:
        if self._handler is None:
            module_name, function_name = self.spec.handler.rsplit(".", 1)
            path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
            unique = f"synchub_fn_{self.spec.logical_id}"
            loader_spec = importlib.util.spec_from_file_location(unique, path)
            assert loader_spec and loader_spec.loader, f"cannot load {path}"
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[unique] = module
            loader_spec.loader.exec_module(module)
            self._handler = getattr(module, function_name)
        return self._handler

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
        with self._lock:
            handler = self._load()
            outer = invoking()
            _invoking.function = self.spec.logical_id
            try:
                return handler(event, self.context())
            finally:
                _invoking.function = outer
