"""Where SyncHub connects on a user's behalf: one outbound policy for every source connector, the connection
test and the webhook sender, decided on the address actually connected to.

A name is resolved once, every answer is checked, and the connection goes to a checked address (TLS still
verifies the name): a name whose answer changes between two lookups cannot slip a private address past the
check. Deployed, only public addresses are allowed, plus the private networks the operator lists (template
parameter ``AllowedPrivateNetworks``, since databases often sit in a VPC); loopback, link-local (instance
metadata), unspecified, multicast and reserved addresses, and Lambda's runtime API, never. ``make run`` allows
loopback and private addresses too, for servers on the developer's machine.

Drivers resolve names with ``socket.getaddrinfo`` (urllib3, PyMySQL, kafka-python, paho-mqtt, redis-py), some
from threads of their own; libpq resolves in C and is given the checked address as ``hostaddr``. While an
:class:`OutboundGuard` is active, in the thread that activated it or a thread started under it, every lookup
goes through it; elsewhere (boto3's calls to AWS, for one) lookups are untouched.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import socket
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlsplit

from synchub.errors import DestinationForbidden
from synchub.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ERROR_CODE = "DESTINATION_NOT_ALLOWED"

# Kinds of address, from the most to the least restricted; deployed, the first five are never connected to.
NEVER_KINDS = ("loopback", "link-local", "unspecified", "multicast", "reserved")
LOCAL_KINDS = frozenset({"loopback", "unspecified", "private"})  # what `make run` adds to public addresses
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationNotAllowed(Exception):
    """The address a destination resolves to is not one SyncHub may connect to."""

    code = ERROR_CODE


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), which is what it reaches."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: Address) -> str:
    """public, private, or one of NEVER_KINDS; an IPv6 address carrying an IPv4 one takes the stricter kind."""
    embedded = _embedded_ipv4(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return _own_kind(address.ipv4_mapped)  # ::ffff:a.b.c.d is a.b.c.d, on a dual-stack socket
    kinds = [_own_kind(address)]
    if embedded is not None:
        kinds.append(_own_kind(embedded))
    order = (*NEVER_KINDS, "private", "public")
    return min(kinds, key=order.index)


def _own_kind(address: Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved or (
        isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255")
    ):
        return "reserved"
    return "public" if address.is_global else "private"


def literal_address(host: str) -> Address | None:
    """The address a host written as an IP literal means (``[::1]``, ``2130706433``, ``0x7f000001`` and
    ``127.1`` included, as the C resolver reads them), or None for a name."""
    text = host.strip().strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def url_origin(url: str) -> tuple[str, str, int | str | None]:
    """(scheme, host, port) of a URL, the scheme's default port filled in; a port that is not a number is
    kept as written (``host:port`` text), so two such URLs compare equal only when written alike."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port: int | str | None = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        port = parts.netloc
    return scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class OutboundPolicy:
    """Which addresses may be connected to."""

    allowed_networks: tuple[Network, ...] = ()
    allow_local: bool = False  # make run: loopback and private addresses too
    runtime_api: str = ""  # Lambda's runtime API (host:port), never a destination

    @classmethod
    def from_settings(cls, settings: Settings) -> "OutboundPolicy":
        return cls(
            settings.private_networks, settings.allow_local_destinations, os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
        )

    def refusal(self, address: Address | str, port: int | None = None) -> str | None:
        """What ``address`` is when connecting to it is not allowed ("a loopback address"), or None."""
        address = ipaddress.ip_address(address) if isinstance(address, str) else address
        if self.runtime_api and port is not None and self.runtime_api in (f"{address}:{port}", f"[{address}]:{port}"):
            return "Lambda's runtime API"
        kind = address_kind(address)
        if kind == "public" or (self.allow_local and kind in LOCAL_KINDS):
            return None
        if kind == "private":
            if any(address in network for network in self.allowed_networks if network.version == address.version):
                return None
            return "a private address outside the networks the operator allows (AllowedPrivateNetworks)"
        return f"a {kind} address"

    def static_refusal(self, host: str) -> str | None:
        """Why ``host`` can never be connected to, judged without a lookup (an IP literal, or a name of this
        machine), as a sentence; None when only resolving it can tell."""
        name = host.strip().lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return None if self.allow_local else f"{host} names this machine (a loopback address)"
        address = literal_address(host)
        reason = self.refusal(address) if address is not None else None
        return f"{host} is {reason}" if reason else None


_ACTIVE: contextvars.ContextVar["OutboundGuard | None"] = contextvars.ContextVar("synchub_outbound_guard", default=None)
_ADOPTED: "weakref.WeakKeyDictionary[threading.Thread, OutboundGuard]" = weakref.WeakKeyDictionary()
_resolve = socket.getaddrinfo  # the real resolver, whatever the guard installs over it
_install_lock = threading.Lock()


def _guarded_getaddrinfo(
    host: Any,
    port: Any,
    family: int = 0,
    type: int = 0,
    proto: int = 0,  # noqa: A002
    flags: int = 0,
) -> list[Any]:
    guard = current_guard()
    if guard is None or host is None:
        return _resolve(host, port, family, type, proto, flags)
    return guard.lookup(host.decode() if isinstance(host, bytes) else str(host), port, family, type, proto, flags)


def _install() -> None:
    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo


def current_guard() -> "OutboundGuard | None":
    """The guard in force for this thread: the one it activated, or the one active where it was started."""
    return _ACTIVE.get() or _ADOPTED.get(threading.current_thread())


class OutboundGuard:
    """The network as one source (or one delivery) sees it: each name resolved once, each answer checked.

    ``refused`` keeps every refusal: a driver may wrap the failed lookup in an error of its own (or retry
    until it times out), so the caller asks the guard what happened."""

    def __init__(self, policy: OutboundPolicy):
        self.policy = policy
        self.refused: list[str] = []
        self._answers: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def active(self) -> Iterator["OutboundGuard"]:
        """Route this thread's lookups, and those of threads started meanwhile, through the guard."""
        _install()
        before = set(threading.enumerate())
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)
            for thread in set(threading.enumerate()) - before:
                _ADOPTED.setdefault(thread, self)

    def check_host(self, host: str, port: int | None) -> list[str]:
        """Resolve ``host`` (once per guard) and check every address; raises DestinationNotAllowed."""
        name = host.strip().strip("[]").lower().rstrip(".")
        with self._lock:
            addresses = self._answers.get(name)
        if addresses is None:
            refused = self.policy.static_refusal(host)
            if refused:
                return self._refuse(refused)
            try:
                found = _resolve(name, port, 0, socket.SOCK_STREAM)
            except UnicodeError as error:
                raise socket.gaierror(socket.EAI_NONAME, f"{host} is not a valid host name") from error
            addresses = list(
                dict.fromkeys(str(ipaddress.ip_address(str(entry[4][0]).split("%", 1)[0])) for entry in found)
            )
            with self._lock:
                addresses = self._answers.setdefault(name, addresses)
        for address in addresses:
            reason = self.policy.refusal(address, port if isinstance(port, int) else None)
            if reason:
                return self._refuse(
                    f"{host} is {reason}"
                    if literal_address(host) is not None
                    else f"{host} resolves to {address}, {reason}"
                )
        return addresses

    def _refuse(self, reason: str) -> list[str]:
        with self._lock:
            self.refused.append(reason)
        raise DestinationNotAllowed(reason)

    def lookup(self, host: str, port: Any, family: int, type: int, proto: int, flags: int) -> list[Any]:  # noqa: A002
        """getaddrinfo's answer built from the checked addresses only."""
        try:
            addresses = self.check_host(host, int(port) if str(port or "").isdigit() else None)
        except DestinationNotAllowed as error:
            raise socket.gaierror(socket.EAI_NONAME, f"{ERROR_CODE}: {error}") from error
        answers: list[Any] = []
        for address in addresses:
            try:
                answers.extend(_resolve(address, port, family, type, proto, flags | socket.AI_NUMERICHOST))
            except socket.gaierror:
                continue  # an address of a family the caller did not ask for
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address of the family asked for")
        return answers

    def address(self, host: str, port: int | None) -> str:
        """The checked address to connect to (for drivers that resolve names themselves: libpq)."""
        return self.check_host(host, port)[0]


def guard_for(settings: Settings) -> OutboundGuard:
    """A fresh guard under the deployment's policy."""
    return OutboundGuard(OutboundPolicy.from_settings(settings))


def refuse_named(settings: Settings, named: dict[tuple[str, ...], str | None]) -> None:
    """Raise DestinationForbidden (422) when a host or URL a request names (location in the body → host or
    http(s) URL) can never be connected to under the deployment's policy; names are resolved only at run time."""
    policy = OutboundPolicy.from_settings(settings)
    errors = []
    for loc, target in named.items():
        host = urlsplit(target).hostname if target and "://" in target else target
        reason = policy.static_refusal(host) if host else None
        if reason:
            errors.append({"loc": ["body", *loc], "msg": reason, "type": "destination_not_allowed"})
    if errors:
        raise DestinationForbidden(
            f"Not allowed to connect: {errors[0]['msg']}. Sources and webhooks reach public addresses, and private "
            "ones the operator lists (AllowedPrivateNetworks); see the README's security section.",
            errors=errors,
        )
