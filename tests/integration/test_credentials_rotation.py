"""Rotating the secret: channels' credentials are resealed with the newest secret, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.channels.services import connect_channel, reseal_credentials
from shared.credentials import CredentialCipher
from shared.db import utcnow
from shared.deliveries.claiming import claim_due
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.publishing import publish_delivery
from shared.taskqueue import MemoryTaskQueue
from tests.factories import make_post, make_workspace
from tests.integration.fake_networks import bootstrap_with_scripted_network


def test_resealing_makes_every_channels_credentials_open_with_the_new_secret_alone(
    services: Services, task_queue: MemoryTaskQueue
) -> None:
    scripted = bootstrap_with_scripted_network(services.settings, task_queue, engine=services.engine)
    workspace, _ = make_workspace(scripted)
    old = CredentialCipher(["old secret"])
    with scripted.sessions.begin() as session:
        connect_channel(
            session,
            scripted.networks,
            workspace.id,
            network="scripted_with_token",
            name="With a token",
            handle="acme",
            settings={},
            credentials={"token": "t0ken"},
            cipher=old,
        )
        connect_channel(
            session, scripted.networks, workspace.id, network="sandbox", name="None", handle="s", settings={}
        )

    with scripted.sessions.begin() as session:
        resealed = reseal_credentials(session, CredentialCipher(["new secret", "old secret"]))

    with scripted.sessions() as session:
        sealed = session.scalars(
            select(Channel.sealed_credentials).where(Channel.sealed_credentials.is_not(None))
        )
        [only] = list(sealed)
    assert resealed == 1
    assert CredentialCipher(["new secret"]).open(only) == {"token": "t0ken"}
    scripted.close()


def test_credentials_a_network_renews_while_posting_are_kept_sealed_for_the_next_call(
    services: Services, task_queue: MemoryTaskQueue
) -> None:
    scripted = bootstrap_with_scripted_network(services.settings, task_queue, engine=services.engine)
    workspace, _ = make_workspace(scripted)
    with scripted.sessions.begin() as session:
        channel = connect_channel(
            session,
            scripted.networks,
            workspace.id,
            network="scripted_with_token",
            name="Renewing",
            handle="acme",
            settings={"renews_credentials": True},
            credentials={"token": "t0ken"},
            cipher=scripted.credentials,
        )
    make_post(scripted, workspace, [channel])
    with scripted.sessions.begin() as session:
        [claim] = claim_due(
            session, now=utcnow(), lookahead=timedelta(seconds=1), batch_size=10, lease=timedelta(minutes=1)
        )

    state = publish_delivery(scripted, claim.delivery_id, claim.attempt)

    with scripted.sessions() as session:
        sealed = session.get_one(Channel, channel.id).sealed_credentials
    assert state is DeliveryState.PUBLISHED
    assert scripted.credentials.open(sealed) == {"token": "t0ken-renewed"}
    scripted.close()


def test_credentials_no_configured_secret_opens_hold_the_delivery_and_ask_for_a_reconnection(
    services: Services, task_queue: MemoryTaskQueue
) -> None:
    scripted = bootstrap_with_scripted_network(services.settings, task_queue, engine=services.engine)
    workspace, _ = make_workspace(scripted)
    with scripted.sessions.begin() as session:
        channel = connect_channel(
            session,
            scripted.networks,
            workspace.id,
            network="scripted_with_token",
            name="Sealed with a lost secret",
            handle="acme",
            settings={},
            credentials={"token": "t0ken"},
            cipher=CredentialCipher(["a secret nobody has any more"]),
        )
    post = make_post(scripted, workspace, [channel])
    with scripted.sessions.begin() as session:
        [claim] = claim_due(
            session, now=utcnow(), lookahead=timedelta(seconds=1), batch_size=10, lease=timedelta(minutes=1)
        )

    state = publish_delivery(scripted, claim.delivery_id, claim.attempt)

    with scripted.sessions() as session:
        delivery = session.get_one(Delivery, post.deliveries[0].id)
        channel_state = session.get_one(Channel, channel.id).state
    assert state is DeliveryState.SCHEDULED
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("The channel's credentials cannot be opened")
    assert channel_state is ChannelState.NEEDS_REAUTH
    scripted.close()
