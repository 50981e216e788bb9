"""Logger and metrics shared by every function.

Logs are JSON lines (request bodies are never logged) carrying a ``correlation_id``: the API request's
(``X-Correlation-Id`` if the client sent a usable one, else API Gateway's request id), stored with the task
and sent with each engine message, so one id follows a task from the request through every engine run.
Metrics are CloudWatch embedded metric format (EMF) lines in namespace ``SyncHub``, written when a handler
decorated with ``metrics.log_metrics`` returns; the Metrics class is imported only by functions that use it.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(service="synchub")

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_ATTRIBUTE = "correlation_id"
_USABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_metrics: Any = None


def usable_correlation_id(value: Any) -> str | None:
    """``value`` if it can serve as a correlation id (1-128 URL-safe characters), else None."""
    return value if isinstance(value, str) and _USABLE_ID.match(value) else None


def correlation_id() -> str | None:
    return logger.get_correlation_id()


def __getattr__(name: str) -> Any:
    # ``from synchub.observability import metrics`` builds the Powertools Metrics object on first use only.
    if name == "metrics":
        global _metrics
        if _metrics is None:
            from aws_lambda_powertools import Metrics  # noqa: PLC0415 - only functions that count build it

            _metrics = Metrics(namespace="SyncHub", service="synchub")
        return _metrics
    raise AttributeError(name)
