"""Opening a channel's credentials for a network call, with somewhere to keep what the network renews."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from shared.channels.refreshing import fresh_credentials
from shared.channels.services import store_credentials
from shared.dependencies import HasCredentials, HasSessions
from shared.networks.ports import Account, Network, RefreshesCredentials


class Opening(HasSessions, HasCredentials, Protocol):
    """What opening a channel's credentials uses: the cipher, and sessions to keep renewed ones."""


def account_with_credentials(
    services: Opening, account: Account, sealed: bytes | None, *, network: Network | None = None
) -> Account:
    """The account ready for a call; credentials the adapter renews are stored in a transaction of their own.

    Given the channel's `network`, credentials about to expire there are renewed first (shared.channels.
    refreshing). Called from network-call threads, which hold no transaction: the save never nests inside one.
    """
    channel_id = uuid.UUID(account.channel_id)
    if isinstance(network, RefreshesCredentials):
        sealed = fresh_credentials(services, network, account, sealed)

    def save(renewed: Mapping[str, Any]) -> None:
        with services.sessions.begin() as session:
            store_credentials(session, services.credentials, channel_id, renewed)

    return services.credentials.open_into(account, sealed, save)
