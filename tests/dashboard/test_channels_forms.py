"""The channels pages' forms without a browser: each problem beside its field, nothing stored by a refused
form, who may use the forms, and the banner every page shows while a channel needs reconnecting."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.channels.models import Channel, ChannelState
from shared.channels.services import ask_for_reconnection
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.best_times import best_times
from shared.workspaces.access import Role, Scope
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.seeding import WEEKDAY_SLOTS, SeededWorkspace
from tests.factories import make_member_token


def error_beside(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="[^"]+" data-test="error-{field}">([^<]*)</p>', page)
    assert found is not None, f"no error beside {field}"
    return html.unescape(found.group(1))


def page_of(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def channel_count(services: Services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Channel)) or 0


def read_channel(services: Services, channel_id: uuid.UUID) -> Channel:
    with services.sessions() as session:
        found = session.get_one(Channel, channel_id)
        session.expunge(found)
        return found


def waiting_on(services: Services, channel_id: uuid.UUID) -> int:
    """How many of the channel's deliveries wait to go out."""
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.channel_id == channel_id, Delivery.state.in_(DeliveryState.waiting()))
    )
    with services.sessions() as session:
        return session.scalar(query) or 0


def connect_form(client: FlaskClient, network: str, **fields: str) -> dict[str, str]:
    page = page_of(client, f"/dashboard/channels?network={network}")
    return {"csrf_token": csrf_token_of(page), "network": network, "via": "credentials", **fields}


def slots_form(
    client: FlaskClient, channel_id: uuid.UUID, rows: list[tuple[str, str]], **fields: str
) -> dict[str, str]:
    page = page_of(client, f"/dashboard/channels/{channel_id}")
    form = {"csrf_token": csrf_token_of(page), "slot-rows": str(len(rows)), **fields}
    for index, (weekday, at) in enumerate(rows):
        form[f"slot-day-{index}"] = weekday
        form[f"slot-time-{index}"] = at
    return form


def test_the_list_shows_each_channel_with_its_network_handle_and_state(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)

    page = page_of(client, "/dashboard/channels")

    for channel in seeded.channels:
        row = re.search(rf'<tr data-channel-id="{channel.id}">(.*?)</tr>', page, re.S)
        assert row is not None
        assert channel.name in row.group(1)
        assert f'<td class="handle">{channel.handle}</td>' in row.group(1)
        assert ">Sandbox</td>" in row.group(1)
        assert ">active</td>" in row.group(1)


def test_a_sandbox_channel_is_connected_with_the_settings_typed_as_numbers(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    form = connect_form(
        client,
        "sandbox",
        name="Launch account",
        handle="launch",
        timezone="Europe/Berlin",
        **{
            "setting-key-0": "latency_ms",
            "setting-value-0": "5",
            "setting-key-1": "audience_replies",
            "setting-value-1": "true",
        },
    )

    response = client.post("/dashboard/channels", data=form)

    assert response.status_code == 302, response.get_data(as_text=True)
    channel_id = uuid.UUID(response.headers["Location"].rsplit("/", 1)[1])
    connected = read_channel(services, channel_id)
    assert (connected.name, connected.handle, connected.network) == ("Launch account", "launch", "sandbox")
    assert connected.settings == {"latency_ms": 5, "audience_replies": True}
    assert connected.timezone == "Europe/Berlin"
    assert connected.workspace_id == seeded.workspace.id
    assert "Launch account" in page_of(client, response.headers["Location"])


def test_an_unknown_network_is_refused_beside_its_field(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    form = connect_form(client, "sandbox", name="Nowhere", handle="nobody")
    before = channel_count(services)

    response = client.post("/dashboard/channels", data={**form, "network": "myspace"})

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "myspace" in error_beside(page, "network")
    assert channel_count(services) == before
    # Asked for by name in the address, it is told the same.
    assert "myspace" in error_beside(page_of(client, "/dashboard/channels?network=myspace"), "network")


def test_a_missing_credential_is_refused_beside_its_own_field_and_nothing_is_stored(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    page = page_of(client, "/dashboard/channels?network=discord")
    assert 'name="credential-webhook_url" type="password"' in page
    before = channel_count(services)

    response = client.post(
        "/dashboard/channels",
        data=connect_form(
            client, "discord", name="Server news", handle="news", **{"credential-webhook_url": ""}
        ),
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(page, "credential-webhook_url") == "Discord needs this to post."
    assert 'aria-describedby="connect-credential-webhook_url-error"' in page
    assert 'value="Server news"' in page, "what was typed is kept"
    assert channel_count(services) == before


def test_a_credential_typed_is_never_sent_back_with_a_refused_form(
    client: FlaskClient, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    secret = "https://discord.com/api/webhooks/1/very-secret"

    response = client.post(
        "/dashboard/channels",
        data=connect_form(client, "discord", name="", handle="news", **{"credential-webhook_url": secret}),
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(page, "name") == "A channel needs a name."
    assert secret not in page


def test_slots_and_timezone_are_saved_from_the_rows(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    channel = seeded.channels[0]
    rows = [("tue", "18:30"), ("mon", "08:15"), ("wed", ""), ("mon", "07:00")]

    response = client.post(
        f"/dashboard/channels/{channel.id}/slots",
        data=slots_form(client, channel.id, rows, timezone="America/New_York"),
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    changed = read_channel(services, channel.id)
    assert changed.timezone == "America/New_York"
    assert changed.posting_schedule["mon"] == ["07:00", "08:15"]
    assert changed.posting_schedule["tue"] == ["18:30"]
    assert changed.posting_schedule["wed"] == []


def test_a_bad_slot_time_is_refused_beside_its_row_and_nothing_changes(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    channel = seeded.channels[0]
    rows = [("mon", "09:00"), ("mon", "25:00"), ("fri", "17:00")]

    response = client.post(
        f"/dashboard/channels/{channel.id}/slots", data=slots_form(client, channel.id, rows, timezone="UTC")
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(page, "slot-1") == "'25:00' is not a time of day as HH:MM."
    assert 'aria-describedby="slot-time-1-error"' in page
    assert 'value="25:00"' in page, "what was typed is kept"
    assert read_channel(services, channel.id).posting_schedule == {
        day: WEEKDAY_SLOTS.get(day, []) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }


def test_an_unknown_timezone_is_refused_beside_its_field(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    channel = seeded.channels[0]

    response = client.post(
        f"/dashboard/channels/{channel.id}/slots",
        data=slots_form(client, channel.id, [("mon", "10:00")], timezone="Mars/Olympus"),
    )

    assert response.status_code == 422
    assert "Mars/Olympus" in error_beside(response.get_data(as_text=True), "timezone")
    assert read_channel(services, channel.id).timezone == "UTC"


def test_the_best_time_suggestions_become_the_slots_in_one_click(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    channel = seeded.channels[0]
    with services.sessions() as session:
        suggested = best_times(session, seeded.workspace.id, channel.id, now=utcnow())
    assert suggested.suggestions, "the seeded channel has enough posts for a suggestion"
    page = page_of(client, f"/dashboard/channels/{channel.id}")
    assert "Apply as slots" in page

    response = client.post(
        f"/dashboard/channels/{channel.id}/best-times", data={"csrf_token": csrf_token_of(page)}
    )

    assert response.status_code == 302
    assert read_channel(services, channel.id).posting_schedule == suggested.posting_schedule


def test_a_channel_is_paused_and_resumed(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    channel = seeded.channels[1]
    token = csrf_token_of(page_of(client, f"/dashboard/channels/{channel.id}"))

    assert (
        client.post(f"/dashboard/channels/{channel.id}/pause", data={"csrf_token": token}).status_code == 302
    )
    assert read_channel(services, channel.id).state is ChannelState.PAUSED
    assert ">Resume</button>" in page_of(client, f"/dashboard/channels/{channel.id}")

    assert (
        client.post(f"/dashboard/channels/{channel.id}/resume", data={"csrf_token": token}).status_code == 302
    )
    assert read_channel(services, channel.id).state is ChannelState.ACTIVE


def test_a_channel_that_needs_reconnecting_is_shown_on_every_page_until_it_is_reconnected(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.reader_token)
    assert 'data-test="reconnect-banner"' not in page_of(client, "/dashboard")
    expired = seeded.channels[1]
    with services.sessions.begin() as session:
        ask_for_reconnection(session, [expired.id])

    for path in ("/dashboard", "/dashboard/inbox", "/dashboard/inbox/streams", "/dashboard/channels"):
        page = page_of(client, path)
        banner = re.search(
            r'<div class="notice banner" role="status" data-test="reconnect-banner">(.*?)</div>', page, re.S
        )
        assert banner is not None, path
        assert f'href="/dashboard/channels/{expired.id}#reconnect"' in banner.group(1)
        assert seeded.channels[0].name not in banner.group(1)

    # Resuming is refused: only new credentials bring it back.
    sign_in(client, seeded.owner_token)
    page = page_of(client, f"/dashboard/channels/{expired.id}")
    assert 'id="reconnect"' in page
    refused = client.post(
        f"/dashboard/channels/{expired.id}/resume", data={"csrf_token": csrf_token_of(page)}
    )
    assert refused.status_code == 409
    assert read_channel(services, expired.id).state is ChannelState.NEEDS_REAUTH

    # The sandbox takes no credentials: reconnecting with none is checked with it, and makes it active.
    response = client.post(
        f"/dashboard/channels/{expired.id}/credentials", data={"csrf_token": csrf_token_of(page)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert read_channel(services, expired.id).state is ChannelState.ACTIVE
    assert 'data-test="reconnect-banner"' not in page_of(client, "/dashboard/channels")


@pytest.mark.parametrize(("role", "scope"), [(Role.EDITOR, Scope.ADMIN), (Role.OWNER, Scope.WRITE)])
def test_only_who_may_manage_channels_sees_and_uses_their_forms(
    client: FlaskClient, services: Services, seeded: SeededWorkspace, role: Role, scope: Scope
) -> None:
    sign_in(client, make_member_token(services, seeded.workspace, role, scope))
    channel = seeded.channels[0]
    listing = page_of(client, "/dashboard/channels?network=sandbox")
    page = page_of(client, f"/dashboard/channels/{channel.id}")
    token = csrf_token_of(page)
    assert 'id="connect"' not in listing
    assert "Save slots" not in page
    assert "Apply as slots" not in page
    assert "Pause" not in page
    assert "09:00" in page, "the slots are shown, not offered for change"

    tried = [
        ("/dashboard/channels", {"network": "sandbox", "name": "Mine", "handle": "mine"}),
        (f"/dashboard/channels/{channel.id}/pause", {}),
        (f"/dashboard/channels/{channel.id}/verify", {}),
        (f"/dashboard/channels/{channel.id}/best-times", {}),
        (
            f"/dashboard/channels/{channel.id}/slots",
            {"slot-rows": "1", "slot-day-0": "mon", "slot-time-0": "10:00"},
        ),
        (f"/dashboard/channels/{channel.id}/credentials", {}),
        (f"/dashboard/channels/{channel.id}/disconnect", {}),
    ]
    for path, fields in tried:
        response = client.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == 403, path
        assert "manage_channels" in response.get_data(as_text=True)
    assert read_channel(services, channel.id).state is ChannelState.ACTIVE
    assert read_channel(services, channel.id).posting_schedule["mon"] == ["09:00", "17:00"]


def test_a_disconnected_channel_forgets_its_credentials_and_cancels_what_waited(
    client: FlaskClient, services: Services, seeded: SeededWorkspace
) -> None:
    sign_in(client, seeded.owner_token)
    channel = seeded.channels[0]
    assert waiting_on(services, channel.id) == 2, "the seeded channel has two posts to come"
    page = page_of(client, f"/dashboard/channels/{channel.id}")

    response = client.post(
        f"/dashboard/channels/{channel.id}/disconnect", data={"csrf_token": csrf_token_of(page)}
    )

    assert response.status_code == 302
    assert read_channel(services, channel.id).state is ChannelState.DISCONNECTED
    assert waiting_on(services, channel.id) == 0
    page = page_of(client, f"/dashboard/channels/{channel.id}")
    assert 'id="reconnect"' in page
    assert ">Disconnect</button>" not in page
