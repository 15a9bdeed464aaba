"""Outbound HTTP for webhooks: which addresses a receiver may have, and a guarded POST.

A webhook URL is written by an admin but fetched by the server, from inside the network: left
unchecked it reaches the cloud metadata service (``169.254.169.254``), the database's admin
port on ``127.0.0.1`` or any internal host (server-side request forgery). So:

* every address a receiver's name resolves to must be public: loopback, private, link-local,
  multicast, unspecified, reserved and other non-global ranges of IPv4 and IPv6 are refused,
  and so are IPv6 addresses that carry one of those IPv4 addresses inside them (IPv4-mapped
  ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64 ``64:ff9b::/96``) —
  unless the address lies in a network the operator allows (``KANSA_WEBHOOK_ALLOW_PRIVATE``);
* ``https`` is required, except in development (``KANSA_ENV=development``) or when every
  address of the receiver is in an allowed network (a receiver the operator vouched for);
* ``post`` resolves the name once, checks every address, then connects to exactly the address
  it checked (never resolving again, so a name that changes its answer between the check and
  the connection — DNS rebinding — cannot move the request), while the ``Host`` header, TLS
  SNI and certificate check still use the name;
* redirects are never followed (a 3xx is a failed attempt), every request has a connect
  timeout, a read timeout and a total deadline after which the socket is shut (the name's
  resolution counts toward the deadline but, being the system resolver's, is not cut short).

No Flask here: the caller hands over the settings (``AddressPolicy``, ``Timeouts``).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: where the other IPv4 addresses hide inside IPv6 ones (RFC 6052 NAT64, well-known prefix)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: the setting named in refusals, so an operator knows what to change
ALLOW_SETTING = "KANSA_WEBHOOK_ALLOW_PRIVATE"


@dataclass(frozen=True)
class AddressPolicy:
    """Which receivers a webhook may reach: the allowed internal networks, and whether plain
    http is accepted anywhere (development)."""

    allowed: tuple[IPNetwork, ...] = ()
    development: bool = False

    @classmethod
    def of(cls, networks: Sequence[str], development: bool = False) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n) for n in networks), development)

    def allows(self, address: IPAddress) -> bool:
        """True when the operator listed a network holding ``address`` (or its IPv4 form)."""
        forms: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            forms.append(address.ipv4_mapped)
        return any(form in network for form in forms for network in self.allowed)


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to establish a connection (TLS included), to wait for each read, in all."""

    connect: float = 5.0
    read: float = 10.0
    deadline: float = 15.0


def _kind(address: IPAddress) -> str | None:
    """What makes ``address`` unfit for a webhook, in words; None for a public address."""
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "an address that is not publicly routable"
    return None


def embedded(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, 6to4, Teredo client, NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def unfit(address: IPAddress, policy: AddressPolicy) -> str | None:
    """What makes ``address`` one a webhook may not reach (``"a loopback address"``), or None.

    An IPv6 address carrying an IPv4 one is judged by what it carries too.
    """
    if policy.allows(address):
        return None
    for inner in embedded(address):
        kind = _kind(inner)
        if kind is not None and not policy.allows(inner):
            return f"an IPv6 address carrying {inner}, {kind}"
    return _kind(address)


def refusal(address: IPAddress, policy: AddressPolicy) -> str | None:
    """Why a webhook may not connect to ``address``, in a sentence, or None if it may."""
    kind = unfit(address, policy)
    if kind is None:
        return None
    return f"{address} is {kind}, and {ALLOW_SETTING} does not list it"


class Unresolvable(Exception):
    """The receiver's name has no address (now)."""


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` has for TCP, in the resolver's order, each once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise Unresolvable(f"the name {host} could not be resolved ({exc})") from None
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Unresolvable(f"the name {host} has no address")
    return found


def literal(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (``127.0.0.1``, ``::1``), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class Target:
    """A receiver URL taken apart: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def destination(self) -> str:
        """``host:port``: deliveries to one destination share its limit of requests in flight."""
        return f"{self.host}:{self.port}"


def target_of(url: str) -> Target:
    """The parts of an absolute http(s) URL; ValueError naming what is wrong otherwise."""
    parts: SplitResult = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the URL must be an absolute http:// or https:// address")
    port = parts.port  # ValueError for a port out of range
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname.lower(), port or default, path)


def check(target: Target, addresses: Sequence[IPAddress], policy: AddressPolicy) -> str | None:
    """Why a request to ``target`` at ``addresses`` is refused, or None if it may go."""
    for address in addresses:
        kind = unfit(address, policy)
        if kind is not None:
            named = (
                f"{target.host} resolves to {address}, which is"
                if literal(target.host) is None
                else f"{address} is"
            )
            return f"{named} {kind}, and {ALLOW_SETTING} does not list it"
    if target.scheme == "http" and not policy.development:
        if not addresses or not all(policy.allows(a) for a in addresses):
            return (
                "the URL must use https:// (plain http:// is accepted only in development "
                f"or to an address {ALLOW_SETTING} lists)"
            )
    return None


def check_url(url: str, policy: AddressPolicy) -> str | None:
    """Registration's check of a receiver URL: why it is refused, or None.

    A name that does not resolve now is accepted (it may be created later); its addresses are
    checked at every delivery anyway. Plain http to such a name is refused outside development,
    since nothing shows its address is one the operator allowed.
    """
    try:
        target = target_of(url)
    except ValueError as exc:
        return str(exc)
    address = literal(target.host)
    if address is not None:
        addresses = [address]
    else:
        try:
            addresses = resolve(target.host, target.port)
        except Unresolvable:
            addresses = []
    return check(target, addresses, policy)


# ------------------------------------------------------------------------------ sending


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: success, the HTTP status if any, what went wrong if it failed."""

    ok: bool
    status: int | None
    error: str | None


@dataclass
class _Watchdog:
    """Shuts the connection's socket when the deadline passes, whatever it is waiting for."""

    connection: http.client.HTTPConnection
    seconds: float
    fired: bool = False
    timer: threading.Timer | None = field(default=None, repr=False)

    def __enter__(self) -> _Watchdog:
        self.timer = threading.Timer(self.seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.timer is not None
        self.timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        sock = self.connection.sock
        if sock is not None:
            # the plain socket's shutdown, also under TLS: it wakes a blocked recv at once; a
            # socket the answer already closed has nothing left to wake
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _connection(target: Target, address: IPAddress, timeout: float) -> http.client.HTTPConnection:
    """A connection for ``target`` (Host header, SNI, certificate) that dials only ``address``."""
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def dial(_where: Any, dial_timeout: Any = None, source: Any = None) -> socket.socket:
        return socket.create_connection((str(address), target.port), dial_timeout, source)

    conn._create_connection = dial  # type: ignore[attr-defined]  # http.client's dial hook
    return conn


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: AddressPolicy,
    timeouts: Timeouts,
) -> Outcome:
    """POST ``body`` to ``url`` under ``policy``; 2xx is success, anything else a failure."""
    started = time.monotonic()
    try:
        target = target_of(url)
    except ValueError as exc:
        return Outcome(False, None, f"refused, nothing was sent: {exc}")
    try:
        address = literal(target.host)
        addresses = [address] if address is not None else resolve(target.host, target.port)
    except Unresolvable as exc:
        return Outcome(False, None, f"not sent: {exc}")
    reason = check(target, addresses, policy)
    if reason is not None:
        return Outcome(False, None, f"refused, nothing was sent: {reason}")
    failures: list[str] = []
    for address in addresses:
        remaining = timeouts.deadline - (time.monotonic() - started)
        if remaining <= 0:
            break
        outcome = _post_to(target, address, body, headers, timeouts, remaining)
        if isinstance(outcome, Outcome):
            return outcome
        failures.append(outcome)
    if not failures:
        return Outcome(False, None, _late(timeouts))
    return Outcome(False, None, ("could not connect: " + "; ".join(failures))[:500])


def _late(timeouts: Timeouts) -> str:
    return f"no answer within the {timeouts.deadline:g} s deadline; the connection was closed"


def _post_to(
    target: Target,
    address: IPAddress,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
    remaining: float,
) -> Outcome | str:
    """One attempt at one checked address: its outcome, or why no connection was made."""
    conn = _connection(target, address, min(timeouts.connect, remaining))
    with _Watchdog(conn, remaining) as watchdog:
        try:
            try:
                conn.connect()
            except ssl.SSLError as exc:
                return Outcome(False, None, f"TLS failed with {address}: {exc}"[:500])
            except TimeoutError:
                if watchdog.fired:
                    return Outcome(False, None, _late(timeouts))
                return f"{address} gave no connection within the {timeouts.connect:g} s timeout"
            except OSError as exc:
                if watchdog.fired:
                    return Outcome(False, None, _late(timeouts))
                return f"{address}: {exc.strerror or exc}"
            assert conn.sock is not None
            conn.sock.settimeout(timeouts.read)
            conn.request("POST", target.path, body=body, headers=headers)
            response = conn.getresponse()
            status = response.status
            location = response.getheader("Location")
            if watchdog.fired:  # the answer was cut off at the deadline, though it parsed
                return Outcome(False, None, _late(timeouts))
        except TimeoutError:
            if watchdog.fired:
                return Outcome(False, None, _late(timeouts))
            message = f"no answer within the {timeouts.read:g} s read timeout; connection closed"
            return Outcome(False, None, message)
        except (OSError, http.client.HTTPException) as exc:
            if watchdog.fired:
                return Outcome(False, None, _late(timeouts))
            return Outcome(False, None, f"the receiver broke off: {exc!r}"[:500])
        finally:
            conn.close()
    if 200 <= status < 300:
        return Outcome(True, status, None)
    if 300 <= status < 400:
        where = f" to {location}"[:300] if location else ""
        return Outcome(False, status, f"HTTP {status}: a redirect{where}, which is not followed")
    return Outcome(False, status, f"HTTP {status}")
