"""How `make run` logs: each event once, under the function that wrote it (or ``local`` for the stack
itself), as readable text by default or as JSON lines (``--json-logs``, the deployed functions' format);
third-party INFO chatter (Kafka's client, the WebSocket server, the emulator) off."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from typing import Any

from local.lambda_runtime import invoking

QUIET = (
    "kafka",
    "websockets",
    "pgserver",
    "botocore",
    "boto3",
    "urllib3",
    "werkzeug",
    "moto",
    "paho",
    "redis",
    "asyncio",
)
# What every log record carries; anything else on a record is an event's own detail (``extra=``).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "function"}


class FunctionName(logging.Filter):
    """Tags each record with the function whose handler runs on its thread (the stack's own threads:
    ``local``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.function = invoking() or "local"
        return True


def details(record: logging.LogRecord) -> dict[str, Any]:
    """The event's own fields (what a handler passed as ``extra``), without Powertools' bookkeeping."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_") and value is not None
    }


class TextFormat(logging.Formatter):
    """``21:37:56 INFO  CreateTaskFunction   task created  task_id=task_01… submitted=True``"""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={value}" for key, value in details(record).items())
        line = (
            f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<5} {record.function:<28} "
            f"{record.getMessage()}{'  ' + fields if fields else ''}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "function": record.function,
            "logger": record.name,
            "message": record.getMessage(),
            **details(record),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure(*, as_json: bool = False) -> None:
    """One handler on the root logger for every event of the process, the functions' included."""
    # Made first: Powertools puts a filter suppressing the functions' records on the root's handlers it finds
    import synchub.observability  # noqa: F401, PLC0415 - creates the functions' logger (named after the service)

    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(FunctionName())
    handler.setFormatter(JsonFormat() if as_json else TextFormat())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # The functions' Powertools logger: as text, through the root handler instead of its own; as JSON, its own
    # handler (the deployed format, correlation ids included) tagged with the function. Either way once.
    functions = logging.getLogger("synchub")
    for powertools_handler in list(functions.handlers):
        if as_json:
            powertools_handler.addFilter(FunctionName())
        else:
            functions.removeHandler(powertools_handler)
    functions.propagate = not as_json
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    warnings.filterwarnings("ignore", category=Warning, module="platformdirs")
