"""A post's page without a browser: each delivery's state, URL, error and attempts, and the steps taken
from it (retry, resolve, cancel, publish now, delete on the networks) done by the API's own calls."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.changing import apply_due_changes
from shared.deliveries.models import ChangeState, Delivery, DeliveryState
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.posts.models import Post, PostStage
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.driving import publish_what_is_due
from tests.factories import make_post, only_delivery_id, read_delivery

REFUSED = "The network said no: the text breaks a rule."


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def page_of(client: FlaskClient, post_id: uuid.UUID) -> str:
    response = client.get(f"/dashboard/posts/{post_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def act(client: FlaskClient, post_id: uuid.UUID, path: str, **fields: str) -> tuple[int, str]:
    """Press one of the page's buttons: its status, and where it leads (or the page it answered)."""
    token = csrf_token_of(page_of(client, post_id))
    response = client.post(f"/dashboard/posts/{post_id}/{path}", data={"csrf_token": token, **fields})
    return response.status_code, response.headers.get("Location") or response.get_data(as_text=True)


def ended(services: Services, delivery_id: uuid.UUID, state: DeliveryState, error: str) -> None:
    # Publishing refuses to make these outcomes on demand: the test writes the delivery's end directly.
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(state=state, last_error=error)
        )


def post_stage(services: Services, post_id: uuid.UUID) -> PostStage:
    with services.sessions() as session:
        return session.get_one(Post, post_id).stage


def test_a_failed_delivery_is_shown_with_its_error_and_retried_from_the_page(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(services, team.workspace, [team.channels[0]], text="Try me again.")
    delivery_id = only_delivery_id(post)
    ended(services, delivery_id, DeliveryState.FAILED, REFUSED)
    sign_in(client, team.editor_token)

    page = page_of(client, post.id)
    status, location = act(client, post.id, f"deliveries/{delivery_id}/retry")
    publish_what_is_due(services)
    after = client.get(location).get_data(as_text=True)

    assert REFUSED in page
    assert '<span data-test="delivery-state">failed</span>' in page
    assert "Retry on" in page
    assert status == 302
    delivery = read_delivery(services, delivery_id)
    assert delivery.state is DeliveryState.PUBLISHED
    assert f'data-test="delivery-url">{delivery.external_url}</a>' in after
    assert '<span data-test="post-state">published</span>' in after
    assert "1 attempt" in after


def test_a_viewer_sees_the_page_without_its_forms_and_cannot_retry(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(services, team.workspace, [team.channels[0]], text="Look, do not touch.")
    delivery_id = only_delivery_id(post)
    ended(services, delivery_id, DeliveryState.FAILED, REFUSED)
    sign_in(client, team.viewer_token)

    page = page_of(client, post.id)
    status, _ = act(client, post.id, f"deliveries/{delivery_id}/retry")

    assert "Retry on" not in page
    assert 'id="actions"' not in page
    assert status == 403
    assert read_delivery(services, delivery_id).state is DeliveryState.FAILED


def test_a_delivery_needing_review_is_marked_published_at_its_url_or_a_bad_url_is_refused_beside_it(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(services, team.workspace, [team.channels[1]], text="Did it go out?")
    delivery_id = only_delivery_id(post)
    ended(services, delivery_id, DeliveryState.NEEDS_REVIEW, "The network could not tell.")
    sign_in(client, team.editor_token)
    path = f"deliveries/{delivery_id}/resolve"

    bad_status, bad_page = act(client, post.id, path, outcome="published", url="not a url")
    status, _ = act(client, post.id, path, outcome="published", url="https://sandbox.invalid/found-it")

    assert bad_status == 422
    assert f'data-test="error-url-{delivery_id}">Not a valid http or https URL.' in bad_page
    assert 'value="not a url"' in bad_page
    assert status == 302
    delivery = read_delivery(services, delivery_id)
    assert (delivery.state, delivery.external_url) == (
        DeliveryState.PUBLISHED,
        "https://sandbox.invalid/found-it",
    )


def test_a_delivery_needing_review_can_be_sent_again(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(services, team.workspace, [team.channels[1]], text="Send it again.")
    delivery_id = only_delivery_id(post)
    ended(services, delivery_id, DeliveryState.NEEDS_REVIEW, "The network could not tell.")
    sign_in(client, team.editor_token)

    status, _ = act(client, post.id, f"deliveries/{delivery_id}/resolve", outcome="republish")
    publish_what_is_due(services)

    assert status == 302
    assert read_delivery(services, delivery_id).state is DeliveryState.PUBLISHED


def test_a_scheduled_post_is_cancelled_and_nothing_goes_out(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(
        services,
        team.workspace,
        team.channels,
        text="Not after all.",
        scheduled_at=utcnow() + timedelta(days=1),
    )
    sign_in(client, team.editor_token)

    status, location = act(client, post.id, "cancel")

    assert status == 302
    assert {read_delivery(services, d.id).state for d in post.deliveries} == {DeliveryState.CANCELLED}
    assert '<span data-test="post-state">cancelled</span>' in client.get(location).get_data(as_text=True)


def test_publish_now_sends_a_post_due_tomorrow_at_once(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(
        services, team.workspace, team.channels, text="Right now.", scheduled_at=utcnow() + timedelta(days=1)
    )
    sign_in(client, team.editor_token)

    status, _ = act(client, post.id, "publish-now")
    published = publish_what_is_due(services)

    assert status == 302
    assert set(published.values()) == {DeliveryState.PUBLISHED}
    assert set(published) == {delivery.id for delivery in post.deliveries}


def test_a_contributor_cannot_publish_now(client: FlaskClient, services: Services, team: PostingTeam) -> None:
    post = make_post(
        services,
        team.workspace,
        team.channels,
        text="Not mine to say.",
        scheduled_at=utcnow() + timedelta(days=1),
    )
    sign_in(client, team.contributor_token)

    status, _ = act(client, post.id, "publish-now")

    assert status == 403
    assert publish_what_is_due(services) == {}


def test_a_published_post_is_deleted_from_the_network(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(services, team.workspace, [team.channels[0]], text="Regret.")
    publish_what_is_due(services)
    delivery = read_delivery(services, only_delivery_id(post))
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    assert delivery.external_id in network.store.get_many([str(delivery.external_id)])
    sign_in(client, team.editor_token)

    status, location = act(client, post.id, "delete-published")
    applied = apply_due_changes(services)

    assert status == 302
    assert "Deleting from 1 network." in client.get(location).get_data(as_text=True)
    assert set(applied.values()) == {ChangeState.DONE}
    assert read_delivery(services, delivery.id).state is DeliveryState.DELETED
    assert network.store.get_many([str(delivery.external_id)]) == {}


def test_a_delivery_of_another_post_is_not_acted_on_from_this_posts_page(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    this = make_post(services, team.workspace, [team.channels[0]], text="This one.")
    other = make_post(services, team.workspace, [team.channels[0]], text="The other one.")
    other_delivery = only_delivery_id(other)
    ended(services, other_delivery, DeliveryState.FAILED, REFUSED)
    sign_in(client, team.editor_token)

    status, _ = act(client, this.id, f"deliveries/{other_delivery}/retry")

    assert status == 404
    assert read_delivery(services, other_delivery).state is DeliveryState.FAILED


def test_a_post_of_another_workspace_is_not_found(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    other = seed_posting_team(services, "Other")
    post = make_post(services, other.workspace, [other.channels[0]], text="Theirs.")
    sign_in(client, team.editor_token)

    assert client.get(f"/dashboard/posts/{post.id}").status_code == 404
    assert post_stage(services, post.id) is PostStage.SCHEDULED


def test_a_draft_is_submitted_from_its_page_and_scheduled(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    page = client.get("/dashboard/compose").get_data(as_text=True)
    drafted = client.post(
        "/dashboard/compose",
        data={
            "csrf_token": csrf_token_of(page),
            "text": "Drafted first.",
            "channel": [str(channel.id) for channel in team.channels],
            "timing": "now",
            "action": "draft",
        },
    )
    post_id = uuid.UUID(drafted.headers["Location"].rsplit("/", 1)[1])

    status, _ = act(client, post_id, "submit")
    published = publish_what_is_due(services)

    assert status == 302
    assert post_stage(services, post_id) is PostStage.SCHEDULED
    assert list(published.values()) == [DeliveryState.PUBLISHED, DeliveryState.PUBLISHED]


def test_a_contributor_is_not_offered_to_cancel_a_scheduled_post_and_is_refused(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = make_post(
        services,
        team.workspace,
        team.channels,
        text="Approved already.",
        scheduled_at=utcnow() + timedelta(days=1),
    )
    sign_in(client, team.contributor_token)

    page = page_of(client, post.id)
    status, _ = act(client, post.id, "cancel")

    assert "Cancel the post" not in page
    assert status == 403
    assert {read_delivery(services, d.id).state for d in post.deliveries} == {DeliveryState.SCHEDULED}
