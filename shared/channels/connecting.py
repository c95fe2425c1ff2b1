"""Connecting a channel: the credentials are tried on the network before anything is stored."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.channels.services import check_connection, connect_channel
from shared.errors import InvalidInput, Problem, Unavailable
from shared.networks.ports import Account, AuthExpired, NetworkError, Rejected


def verify_and_connect(
    services: Services,
    workspace_id: uuid.UUID,
    *,
    network: str,
    name: str,
    handle: str,
    settings: Mapping[str, Any],
    credentials: Mapping[str, Any],
) -> Channel:
    """Connect a channel whose credentials the network accepts; refused credentials store nothing.

    The check calls the network, so it runs before the transaction, never inside it.
    """
    adapter = check_connection(services.networks, network, settings, credentials)
    account = Account(channel_id="", handle=handle, settings=dict(settings), credentials=dict(credentials))
    try:
        adapter.verify(account)
    except (AuthExpired, Rejected) as error:
        problem = Problem("/credentials", f"{adapter.info.display_name} refused these credentials: {error}")
        raise InvalidInput([problem]) from error
    except NetworkError as error:
        raise Unavailable(
            f"{adapter.info.display_name} could not be reached to check the credentials: {error}"
        ) from error
    with services.sessions.begin() as session:
        return connect_channel(
            session,
            services.networks,
            workspace_id,
            network=network,
            name=name,
            handle=handle,
            settings=settings,
            credentials=credentials,
            cipher=services.credentials,
        )
