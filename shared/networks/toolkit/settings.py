"""A channel's settings, as every network checks them: options it does not know, and a server's address.

A workspace admin writes these, so an address is checked against the outbound policy where it is given
(shared.networks.outbound): what is written out must be an address Crier may connect to, over https unless
the operator named the server; a name is looked up on each call, since what it leads to may change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from shared.networks.outbound import AddressPolicy, address_problem, split_url

# A channel setting older channels carry, read and ignored: whether a server may be reached over plain http
# is the operator's to say (CRIER_ALLOWED_PRIVATE_HOSTS), no longer each channel's.
LEGACY_LOOPBACK_SETTING = "allow_insecure_loopback"


def check_server_url(
    value: object, *, setting: str, example: str, secret: str, policy: AddressPolicy
) -> tuple[str | None, list[str]]:
    """A server's address from a channel setting, normalised, or the problems with it.

    https only: `secret` (an access token, an app password) would be readable on the way over plain http.
    http is allowed only to a server the operator named in CRIER_ALLOWED_PRIVATE_HOSTS. An address written
    out that Crier may not connect to is refused here; a name is looked up on each call (see
    shared.networks.outbound), since what it leads to may change after the channel is saved.
    """
    if not isinstance(value, str) or not value.strip():
        return None, [f"{setting} is required: the server's address, e.g. {example}"]
    parts = split_url(value.strip())
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return None, [f"{setting} must be an address such as {example}"]
    if parts.query or parts.fragment or parts.username or parts.password:
        return None, [f"{setting} must be the server's address only, without a query, fragment or login"]
    problem = address_problem(parts.scheme, parts.hostname, policy, secret=secret)
    if problem:
        return None, [f"{setting} {problem}"]
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", []


def unknown_options(settings: Mapping[str, Any], known: Collection[str]) -> list[str]:
    """A problem for each option the network does not know: a typo must not pass for a choice."""
    return [f"unknown option {key!r}" for key in settings if key not in known]
