"""Signed webhooks: a POST to the task's (or its data source's) ``notify_url`` when a task finishes.

The publisher only queues a delivery, so the engine never waits for a user's endpoint; the delivery
function POSTs it and, when the endpoint fails or is slow, retries with a doubling backoff (10 s, 20 s,
40 s … up to 15 minutes) until the queue's dead-letter queue takes it.

Each request carries ``SyncHub-Delivery`` (the same id for every attempt: use it to drop duplicates),
``SyncHub-Timestamp`` (Unix seconds of the attempt) and ``SyncHub-Signature: v1=<hex>``, where ``<hex>``
is HMAC-SHA256, keyed with the signing secret, of ``<timestamp>.<raw body>``. The secret is the data
source's write-only ``notify_secret`` when it has one, else the stack's ``WebhookSigningSecret``.
Receivers check the signature on the raw bytes and refuse timestamps more than 5 minutes off
(:func:`verify_signature` is the recipe).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from synchub import aws
from synchub.notify.feed import TaskChange
from synchub.observability import logger
from synchub.outbound import DestinationNotAllowed, guard_for
from synchub.settings import Settings, get_settings
from synchub.timeutil import now_iso

SIGNATURE_HEADER = "SyncHub-Signature"
TIMESTAMP_HEADER = "SyncHub-Timestamp"
DELIVERY_HEADER = "SyncHub-Delivery"
SIGNATURE_VERSION = "v1"


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` keyed with ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


def verify_signature(
    secret: str, body: bytes, timestamp: str, signed: str, *, tolerance_seconds: int = 300, now: float | None = None
) -> bool:
    """Whether a received webhook is genuine: the signature matches and the timestamp is recent."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    expected = signature(secret, timestamp, body)
    return age <= tolerance_seconds and any(hmac.compare_digest(expected, part.strip()) for part in signed.split(","))


def webhook_body(change: TaskChange) -> dict[str, Any]:
    return {
        "id": delivery_id(change),
        "type": f"task.{change.new_status}",
        "created_at": now_iso(),
        "data": {"task": change.task, "old_status": change.old_status, "new_status": change.new_status},
    }


def delivery_id(change: TaskChange) -> str:
    # A task reaches a terminal status once, so this names the event for every attempt at delivering it.
    return f"{change.task['id']}.{change.new_status}"


class WebhookQueue:
    """Queues deliveries for the delivery function (the publisher's half)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def enqueue(self, change: TaskChange, url: str, secret_arn: str) -> str:
        message = {
            "delivery_id": delivery_id(change),
            "url": url,
            "secret_arn": secret_arn,
            "body": json.dumps(webhook_body(change), separators=(",", ":")),
        }
        return aws.client("sqs").send_message(
            QueueUrl=self.settings.webhook_queue_url, MessageBody=json.dumps(message)
        )["MessageId"]


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx in time; the delivery is retried."""


class Undeliverable(Exception):
    """The URL may not be called (the outbound policy refuses where it leads); retrying would not help."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: the delivery fails with its status (and is retried)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class WebhookSender:
    """POSTs one queued delivery, signed (the delivery function's half)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._secrets: dict[str, tuple[float, str]] = {}

    def secret(self, arn: str) -> str:
        cached = self._secrets.get(arn)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        raw = aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        value = str(json.loads(raw)["signing_secret"])
        self._secrets[arn] = (time.monotonic() + 300, value)
        return value

    def send(self, delivery: dict[str, Any]) -> int:
        """POST the delivery; returns the endpoint's status, raises ``DeliveryFailed`` on anything but 2xx and
        ``Undeliverable`` where the outbound policy refuses the endpoint. Messages name the endpoint's origin
        only: a notify_url may carry a secret in its path (Slack-style)."""
        url = str(delivery["url"])
        parts = urlsplit(url)
        shown = f"{parts.scheme}://{parts.netloc}"
        guard = guard_for(self.settings)
        try:
            with guard.active():
                guard.check_host(parts.hostname or "", None)
                body = str(delivery["body"]).encode()
                timestamp = str(int(time.time()))
                request = urllib.request.Request(
                    url,
                    data=body,
                    method="POST",
                    headers={
                        "Content-Type": "application/json",
                        "User-Agent": "SyncHub-Webhooks/1",
                        DELIVERY_HEADER: str(delivery["delivery_id"]),
                        TIMESTAMP_HEADER: timestamp,
                        SIGNATURE_HEADER: signature(self.secret(str(delivery["secret_arn"])), timestamp, body),
                    },
                )
                with _opener.open(request, timeout=self.settings.webhook_timeout_seconds) as response:
                    status = response.status
        except DestinationNotAllowed as error:
            raise Undeliverable(f"not allowed to connect: {error}") from error
        except urllib.error.HTTPError as error:
            raise DeliveryFailed(
                f"{shown} answered {error.code}" + (" (redirects are not followed)" if 300 <= error.code < 400 else "")
            ) from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            if guard.refused:
                raise Undeliverable(f"not allowed to connect: {guard.refused[0]}") from error
            raise DeliveryFailed(f"{shown} unreachable: {type(error).__name__}") from error
        logger.info("webhook delivered", extra={"delivery_id": delivery["delivery_id"], "status": status})
        return status

    def send_all(self, bodies: dict[str, str], seconds_left: float) -> "DeliveryBatch":
        """Start POSTing every queued delivery (message id → SQS body) at once; see :class:`DeliveryBatch`."""
        budget = min(self.settings.webhook_deadline_seconds, seconds_left - DEADLINE_MARGIN_SECONDS)
        return DeliveryBatch(self, bodies, budget)


# Time kept back from the invocation's own deadline to report the batch's outcome.
DEADLINE_MARGIN_SECONDS = 5.0


class DeliveryBatch:
    """One invocation's deliveries, POSTed in parallel, each within the same deadline (name resolution,
    connecting and the answer included). A batch takes as long as its slowest delivery, never the sum, and
    never outlasts the invocation: a delivery still going at the deadline counts as failed and is retried,
    while the ones that were delivered are not sent again."""

    def __init__(self, sender: WebhookSender, bodies: dict[str, str], seconds: float) -> None:
        self.seconds = max(0.0, seconds)
        self._deadline = time.monotonic() + self.seconds
        pool = ThreadPoolExecutor(max_workers=max(1, len(bodies)), thread_name_prefix="webhook")
        self._futures = {message_id: pool.submit(_send_body, sender, body) for message_id, body in bodies.items()}
        pool.shutdown(wait=False)  # a delivery past its deadline is abandoned, not waited for

    def outcome(self, message_id: str) -> int:
        """The endpoint's status for this message; raises what its delivery raised, or ``DeliveryFailed``
        when it did not finish by the deadline."""
        try:
            return self._futures[message_id].result(timeout=max(0.0, self._deadline - time.monotonic()))
        except FutureTimeout as error:
            raise DeliveryFailed(f"no answer within {self.seconds:.1f} s") from error


def _send_body(sender: WebhookSender, body: str) -> int:
    return sender.send(json.loads(body))


@lru_cache(maxsize=1)
def webhook_sender() -> WebhookSender:
    return WebhookSender(get_settings())
