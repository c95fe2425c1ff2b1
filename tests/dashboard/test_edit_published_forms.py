"""Editing a published post on the networks from its page, without a browser: the form calls what
POST /v1/posts/{id}/edit-published calls, each delivery then says how its change went (pending, applied,
failed in the network's words), channels that cannot be edited say why, and refusals sit beside the field."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.changing import apply_due_changes
from shared.deliveries.models import ChangeState, Delivery, DeliveryChange, DeliveryState
from shared.networks.sandbox.adapter import TEXT_LIMIT, SandboxNetwork
from shared.posts.models import Post
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.driving import publish_what_is_due
from tests.factories import make_post, make_slack_channel, read_delivery


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def page_of(client: FlaskClient, post_id: uuid.UUID) -> str:
    response = client.get(f"/dashboard/posts/{post_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def edit(client: FlaskClient, post_id: uuid.UUID, text: str) -> tuple[int, str]:
    """Send the page's edit form: its status, and where it leads (or the page it answered)."""
    token = csrf_token_of(page_of(client, post_id))
    response = client.post(
        f"/dashboard/posts/{post_id}/edit-published", data={"csrf_token": token, "text": text}
    )
    return response.status_code, response.headers.get("Location") or response.get_data(as_text=True)


def publish_on(services: Services, team: PostingTeam, channels: list[Channel], text: str) -> Post:
    post = make_post(services, team.workspace, channels, text=text)
    publish_what_is_due(services)
    for delivery in post.deliveries:
        assert read_delivery(services, delivery.id).state is DeliveryState.PUBLISHED
    return post


def sandbox(services: Services) -> SandboxNetwork:
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    return network


def sandbox_text(services: Services, delivery_id: uuid.UUID) -> str:
    delivery = read_delivery(services, delivery_id)
    return str(
        sandbox(services).store.get_many([str(delivery.external_id)])[str(delivery.external_id)]["text"]
    )


def change_line(page: str, delivery_id: uuid.UUID) -> str:
    row = re.search(rf'data-delivery-id="{delivery_id}".*?</li>', page, re.S)
    assert row is not None
    found = re.search(
        r'data-test="delivery-change" data-change-state="([a-z_]+)">(.*?)</p>', row.group(0), re.S
    )
    assert found is not None, "the delivery shows no change"
    return f"{found.group(1)}: {html.unescape(re.sub(r'<[^>]+>', '', found.group(2)))}"


def error_beside_text(page: str) -> str:
    found = re.search(r'data-test="error-published_text">([^<]*)</p>', page)
    assert found is not None, "no error beside the text"
    return html.unescape(found.group(1))


def test_the_form_edits_the_text_on_the_network_and_the_delivery_says_pending_then_applied(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = publish_on(services, team, [team.channels[0]], "Our meetup is on Friday")
    [delivery] = post.deliveries
    sign_in(client, team.editor_token)
    before = page_of(client, post.id)
    assert ">Our meetup is on Friday</textarea>" in before, "prefilled with the text on the network"

    status, location = edit(client, post.id, "Our meetup moves to Saturday")

    assert (status, location) == (302, f"/dashboard/posts/{post.id}#deliveries")
    pending = page_of(client, post.id)
    assert "Editing on 1 network." in pending
    assert change_line(pending, delivery.id).startswith("waiting: On the network: edit pending")
    assert sandbox_text(services, delivery.id) == "Our meetup is on Friday"

    assert set(apply_due_changes(services).values()) == {ChangeState.DONE}

    applied = page_of(client, post.id)
    assert change_line(applied, delivery.id).startswith("done: On the network: edit applied")
    assert sandbox_text(services, delivery.id) == "Our meetup moves to Saturday"
    assert ">Our meetup moves to Saturday</textarea>" in applied
    with services.sessions() as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "post.edited_on_networks")
        ).all()
        assert (entry.subject_id, entry.detail["text"]) == (post.id, "Our meetup moves to Saturday")


def test_a_failed_edit_shows_the_networks_words_beside_its_delivery(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = publish_on(services, team, [team.channels[0]], "Soon gone")
    [delivery] = post.deliveries
    sign_in(client, team.editor_token)
    assert edit(client, post.id, "Too late")[0] == 302
    # Someone deleted it on the network itself meanwhile: the network answers it has no such post.
    sandbox(services).store.delete(str(read_delivery(services, delivery.id).external_id))

    apply_due_changes(services)

    line = change_line(page_of(client, post.id), delivery.id)
    assert line.startswith("failed: On the network: edit failed: ")
    assert "sandbox: no post" in line


def test_a_text_too_long_for_a_network_is_refused_beside_the_field_keeping_what_was_typed(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = publish_on(services, team, [team.channels[0]], "Short")
    sign_in(client, team.editor_token)
    typed = "x" * (TEXT_LIMIT + 1)

    status, answered = edit(client, post.id, typed)

    assert status == 422
    said = error_beside_text(answered)
    assert team.channels[0].name in said
    assert f"the sandbox allows {TEXT_LIMIT}" in said
    assert f">{typed}</textarea>" in answered
    assert 'aria-invalid="true"' in answered
    with services.sessions() as session:
        assert session.scalars(select(DeliveryChange)).all() == []


def test_an_empty_text_is_refused_beside_the_field_by_the_apis_own_rule(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = publish_on(services, team, [team.channels[0]], "Short")
    sign_in(client, team.editor_token)

    status, answered = edit(client, post.id, "")

    assert status == 422
    assert error_beside_text(answered) == "The text is empty."


def test_a_post_with_nothing_left_on_the_networks_is_refused_beside_the_field_keeping_the_text(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = publish_on(services, team, [team.channels[0]], "Here for now")
    [delivery] = post.deliveries
    sign_in(client, team.editor_token)
    token = csrf_token_of(page_of(client, post.id))
    # Deleted since the page was drawn: the form on it is stale.
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery).where(Delivery.id == delivery.id).values(state=DeliveryState.DELETED)
        )

    response = client.post(
        f"/dashboard/posts/{post.id}/edit-published", data={"csrf_token": token, "text": "Still typed"}
    )

    assert response.status_code == 409
    answered = response.get_data(as_text=True)
    assert "Nothing of the post can be edited" in error_beside_text(answered)
    assert ">Still typed</textarea>" in answered


def test_channels_whose_network_cannot_edit_are_named_with_why_and_left_as_they_are(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    slack = make_slack_channel(services, team.workspace)
    post = make_post(services, team.workspace, [team.channels[0], slack], text="Both")
    slack_delivery = next(d for d in post.deliveries if d.channel_id == slack.id)
    with services.sessions.begin() as session:  # no Slack server here: recorded as published on it
        session.execute(
            update(Delivery)
            .where(Delivery.id == slack_delivery.id)
            .values(state=DeliveryState.PUBLISHED, external_id="key", external_url="", published_at=utcnow())
        )
    publish_what_is_due(services)
    sign_in(client, team.editor_token)

    shown = page_of(client, post.id)
    status, _ = edit(client, post.id, "Only where it can")

    cannot = re.search(r'<ul data-test="not-editable">(.*?)</ul>', shown, re.S)
    assert cannot is not None
    assert slack.name in cannot.group(1)
    assert "Slack does not let a published post be edited" in cannot.group(1)
    assert team.channels[0].name not in cannot.group(1)
    assert status == 302
    flashed = page_of(client, post.id)
    assert "Editing on 1 network. Not edited where the network cannot: Slack does not let" in flashed
    with services.sessions() as session:
        [change] = session.scalars(select(DeliveryChange)).all()
        assert change.delivery_id != slack_delivery.id


def test_who_may_not_publish_sees_no_edit_form_and_is_refused(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = publish_on(services, team, [team.channels[0]], "Ours")
    sign_in(client, team.contributor_token)
    assert 'data-test="edit-published"' not in page_of(client, post.id)

    status, _ = edit(client, post.id, "Changed by a contributor")

    assert status == 403
    with services.sessions() as session:
        assert session.scalars(select(DeliveryChange)).all() == []


def test_the_edit_form_needs_the_pages_csrf_token(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = publish_on(services, team, [team.channels[0]], "Ours")
    sign_in(client, team.editor_token)

    response = client.post(f"/dashboard/posts/{post.id}/edit-published", data={"text": "Forged"})

    assert response.status_code == 400
    with services.sessions() as session:
        assert session.scalars(select(DeliveryChange)).all() == []
