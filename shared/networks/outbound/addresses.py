"""Where an outbound call may connect: public addresses, and those the operator allowed.

A name is resolved once, every address it has is checked (one refused address refuses the name, since
whoever runs its DNS chooses the order), and the connection goes to an address that was checked, never to
the name, so a second lookup cannot answer differently (DNS rebinding). Addresses are read with
`ipaddress` from what the resolver answered, so 2130706433, 0x7f.1 or 017700000001 (which the resolver
reads as 127.0.0.1) are caught like 127.0.0.1 itself; an IPv6 address carrying an IPv4 one (::ffff:a.b.c.d,
6to4, NAT64) is judged by the IPv4 one.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpcore
import httpx

from shared.networks.outbound.deadlines import time_left

if TYPE_CHECKING:
    from shared.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The addresses a name has, for a connection to a port: the system resolver, or a test's own.
Resolver = Callable[[str, int], Sequence[str]]
# Lookups run on these threads, so that a name server that never answers costs a caller no more than its
# deadline (the thread itself waits out the system resolver's own timeout).
_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="crier-lookup")


class AddressRefused(httpcore.ConnectError):
    """The address (or one of a name's addresses) is not one Crier may connect to; no connection was made."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for a name, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(address[0]) for *_, address in found))


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not this machine, nor a private, shared (CGNAT),
    link-local, multicast, reserved or unspecified one, nor an IPv6 address standing for such an IPv4 one."""
    carried = _carried_ipv4(address)
    if carried is not None:
        return is_public(carried)
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, compatible (::a.b.c.d), 6to4 or NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = address.packed
    if address in _NAT64 or (packed[:12] == bytes(12) and int(address) > 1):
        return ipaddress.IPv4Address(packed[12:])
    return None


def _plain(address: IPAddress) -> IPAddress:
    return _carried_ipv4(address) or address


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _name(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class AddressPolicy:
    """Where Crier may connect on a user's behalf: public addresses, and those the operator allowed."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolve: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        hosts, networks = settings.allowed_private
        return cls(allowed_hosts=hosts, allowed_networks=networks)

    def allows(self, host: str, address: IPAddress) -> bool:
        """Whether a connection for `host` may go to `address`."""
        if is_public(address) or _name(host) in self.allowed_hosts:
            return True
        return self._in_allowed_network(address)

    def allows_plain_http(self, host: str) -> bool:
        """http only to a server the operator named: a token sent over it then crosses their network only."""
        if _name(host) in self.allowed_hosts:
            return True
        address = _literal(host)
        return address is not None and self._in_allowed_network(address)

    def _in_allowed_network(self, address: IPAddress) -> bool:
        # An IPv6 address carrying an IPv4 one is in a network the operator wrote either way.
        return any(address in network or _plain(address) in network for network in self.allowed_networks)

    def refuses_as_written(self, host: str) -> bool:
        """Whether `host` is known to be refused without a lookup: an address written out that may not be
        connected to, or a name of the `localhost.` domain, which always leads to this machine (RFC 6761)."""
        address = _literal(host)
        if address is not None:
            return not self.allows(host, address)
        name = _name(host)
        return (name == "localhost" or name.endswith(".localhost")) and name not in self.allowed_hosts

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for `host`: looked up once, each one allowed, else AddressRefused."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            found = [ipaddress.ip_address(address) for address in self._look_up(host, port)]
        refused = [str(address) for address in found if not self.allows(host, address)]
        if refused or not found:
            raise AddressRefused(
                f"{host} is, or resolves to, {', '.join(refused) or 'no address'}: not an address Crier "
                "connects to (CRIER_ALLOWED_PRIVATE_HOSTS allows private ones)"
            )
        return found

    def _look_up(self, host: str, port: int) -> Sequence[str]:
        lookup = _LOOKUPS.submit(self.resolve, host, port)
        try:
            return lookup.result(timeout=time_left(None, httpcore.ConnectTimeout))
        except LookupTimeout:
            raise httpcore.ConnectTimeout(f"looking {host} up took longer than the call's deadline") from None
        except (OSError, UnicodeError, ValueError) as error:
            raise httpcore.ConnectError(f"{host} could not be looked up: {error}") from error


# No private address allowed: the policy of an operator who allowed none, and the safe default.
PUBLIC_ONLY = AddressPolicy()


def readable_url(url: str) -> bool:
    """Whether the HTTP client can read the URL at all: it refuses some that urllib takes (0177.0.0.1),
    and such a URL must be refused where it is given, not fail when it is called."""
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    return True


def split_url(url: str) -> urllib.parse.SplitResult | None:
    """A URL's parts, once both urllib and the HTTP client can read it (a port that is a number among
    them); None when either cannot, so that such a URL is refused where it is given."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts if readable_url(url) else None


def address_problem(scheme: str, host: str, policy: AddressPolicy, *, secret: str) -> str | None:
    """Why a URL's scheme and host may not be called, as far as is known without looking the name up."""
    if policy.refuses_as_written(host):
        return (
            "is an address on this machine or a private network, which this Crier does not connect to "
            "(its operator may allow one with CRIER_ALLOWED_PRIVATE_HOSTS)"
        )
    if scheme == "http" and not policy.allows_plain_http(host):
        return (
            f"must use https: {secret} sent over plain http can be read on the way (http is allowed only "
            "to a server the operator names in CRIER_ALLOWED_PRIVATE_HOSTS)"
        )
    return None
