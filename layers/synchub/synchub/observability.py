"""Logger shared by every function (JSON lines; request bodies are never logged)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="synchub")
