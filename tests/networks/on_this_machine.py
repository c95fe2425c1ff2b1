"""The outbound policy of an operator who allows servers on this machine: the fakes of the networks listen
on 127.0.0.1, as a Mastodon or a receiver on an operator's own network would (CRIER_ALLOWED_PRIVATE_HOSTS)."""

from __future__ import annotations

import ipaddress
from typing import Any

from shared.config import Settings
from shared.networks.outbound import AddressPolicy, Outbound

ALLOWED_HERE = "127.0.0.1"


def outbound_here(**bounds: Any) -> Outbound:
    """Outbound calls that may reach 127.0.0.1, over plain http too; `bounds` as Outbound takes them."""
    return Outbound(policy=AddressPolicy(allowed_networks=(ipaddress.ip_network(ALLOWED_HERE),)), **bounds)


def allowing_here(settings: Settings) -> Settings:
    """The settings, with 127.0.0.1 allowed as the operator would allow it."""
    return settings.model_copy(update={"allowed_private_hosts": ALLOWED_HERE})
