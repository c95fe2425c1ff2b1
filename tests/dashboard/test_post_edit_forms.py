"""Editing a post from its page without a browser: the compose form filled from the post and saved over it;
a change made meanwhile shown beside what was typed and never overwritten; a post going out refused."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post, PostStage
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.scheduling import update_checked
from shared.workflow.services import create_post
from shared.workspaces.access import Actor
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.factories import make_post
from tests.media.samples import image, upload

VERSION_FIELD = re.compile(r'name="version" value="(\d+)"')
AT_FIELD = re.compile(r'id="at" name="at" type="datetime-local" value="([^"]*)"')


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


@pytest.fixture
def scheduled(services: Services, team: PostingTeam) -> Post:
    return make_post(
        services,
        team.workspace,
        team.channels,
        text="Doors at seven.",
        scheduled_at=utcnow() + timedelta(days=2),
    )


def edit_page(client: FlaskClient, post_id: uuid.UUID) -> str:
    response = client.get(f"/dashboard/posts/{post_id}/edit")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def form_from(page: str, team: PostingTeam, **fields: Any) -> dict[str, Any]:
    """The edit form's fields as the page drew them (version, time), with `fields` typed over them."""
    version, at = VERSION_FIELD.search(page), AT_FIELD.search(page)
    assert version is not None, "the edit form carries no version"
    assert at is not None
    return {
        "csrf_token": csrf_token_of(page),
        "version": version.group(1),
        "channel": [str(channel.id) for channel in team.channels],
        "timing": "at",
        "at": at.group(1),
        "timezone": "UTC",
        "action": "save",
        **fields,
    }


def stored(services: Services, post_id: uuid.UUID) -> Post:
    with services.sessions() as session:
        return session.get_one(Post, post_id)


def test_the_form_is_filled_from_the_post_and_an_edit_is_saved_at_the_same_time(
    client: FlaskClient, services: Services, team: PostingTeam, scheduled: Post
) -> None:
    sign_in(client, team.editor_token)
    post_page = client.get(f"/dashboard/posts/{scheduled.id}").get_data(as_text=True)
    assert f'href="/dashboard/posts/{scheduled.id}/edit"' in post_page

    page = edit_page(client, scheduled.id)
    assert "Doors at seven.</textarea>" in page
    assert all(re.search(f'value="{channel.id}"[^>]* checked', page) for channel in team.channels)
    assert VERSION_FIELD.search(page).group(1) == str(scheduled.version)  # type: ignore[union-attr]
    response = client.post(
        f"/dashboard/posts/{scheduled.id}/edit", data=form_from(page, team, text="Doors at eight now.")
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/dashboard/posts/{scheduled.id}"
    saved = stored(services, scheduled.id)
    assert saved.text == "Doors at eight now."
    assert saved.version > scheduled.version
    assert saved.scheduled_at == scheduled.scheduled_at, "a time left as shown keeps its seconds"
    assert "Saved: the post now says what you wrote. It goes out at its time." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)


def test_a_post_due_this_minute_is_saved_with_its_time_left_as_shown(
    client: FlaskClient, services: Services, team: PostingTeam, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form shows minutes: a post due at 10:00:50 shows 10:00. Saved at 10:01:40 with the time left as
    shown, it keeps 10:00:50 (within the core's minute of tolerance), not 10:00:00 (refused as past)."""
    due = (utcnow() + timedelta(days=2)).replace(second=50, microsecond=0)
    post = make_post(services, team.workspace, team.channels, text="Doors at seven.", scheduled_at=due)
    sign_in(client, team.editor_token)
    page = edit_page(client, post.id)
    monkeypatch.setattr("services.api.dashboard.post_edit.utcnow", lambda: due + timedelta(seconds=50))

    response = client.post(f"/dashboard/posts/{post.id}/edit", data=form_from(page, team, text="Doors at 8."))

    assert response.status_code == 302, response.get_data(as_text=True)
    assert stored(services, post.id).scheduled_at == due
    assert stored(services, post.id).text == "Doors at 8."


def test_media_are_chosen_from_the_post_and_can_be_added_when_editing(
    client: FlaskClient, services: Services, team: PostingTeam, scheduled: Post
) -> None:
    poster = upload(services, team.workspace, image("PNG"), "poster.png", alt_text="The poster")
    sign_in(client, team.editor_token)
    page = edit_page(client, scheduled.id)
    assert f'value="{poster.id}" checked' not in page

    response = client.post(
        f"/dashboard/posts/{scheduled.id}/edit",
        data=form_from(page, team, text="Doors at seven.", media=[str(poster.id)]),
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    assert [str(media_id) for media_id in stored(services, scheduled.id).media] == [str(poster.id)]
    assert f'value="{poster.id}" checked' in edit_page(client, scheduled.id)


def test_an_edit_of_a_post_changed_meanwhile_shows_both_and_changes_nothing(
    client: FlaskClient, services: Services, team: PostingTeam, scheduled: Post
) -> None:
    sign_in(client, team.editor_token)
    page = edit_page(client, scheduled.id)
    with services.sessions() as session:
        base = PostRequest.of(session.get_one(Post, scheduled.id))
    meanwhile = update_checked(
        services,
        Actor.system(team.workspace.id),
        scheduled.id,
        PostRequest(text="Doors at half past seven.", targets=base.targets, scheduled_at=base.scheduled_at),
        expected_version=scheduled.version,
        now=utcnow(),
    )

    response = client.post(
        f"/dashboard/posts/{scheduled.id}/edit", data=form_from(page, team, text="Doors at nine, sorry.")
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 412
    assert 'data-test="changed-meanwhile"' in html
    now_shown = re.search(r'<dl class="post-now" data-test="post-now">(.*?)</dl>', html, re.S)
    assert now_shown is not None
    assert "Doors at half past seven." in now_shown.group(1)
    assert "Doors at nine, sorry.</textarea>" in html, "what was typed is kept"
    assert "Nothing was saved." in html
    assert stored(services, scheduled.id).text == "Doors at half past seven."
    assert stored(services, scheduled.id).version == meanwhile.version
    # Redrawn from the post as it is now: saving again is a choice, made after seeing it.
    assert VERSION_FIELD.search(html).group(1) == str(meanwhile.version)  # type: ignore[union-attr]


def test_a_post_whose_deliveries_started_is_refused_in_the_cores_words(
    client: FlaskClient, services: Services, team: PostingTeam, scheduled: Post
) -> None:
    sign_in(client, team.editor_token)
    page = edit_page(client, scheduled.id)
    first = scheduled.deliveries[0].id
    with services.sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == first).values(state=DeliveryState.PUBLISHING))

    refused_page = client.get(f"/dashboard/posts/{scheduled.id}/edit")
    refused_save = client.post(
        f"/dashboard/posts/{scheduled.id}/edit", data=form_from(page, team, text="Too late to say this.")
    )

    said = "Some of the post&#39;s deliveries have started or ended: cancel or duplicate it instead."
    assert refused_page.status_code == 409
    assert said in refused_page.get_data(as_text=True)
    assert refused_save.status_code == 409
    assert said in refused_save.get_data(as_text=True)
    assert stored(services, scheduled.id).text == "Doors at seven."
    post_page = client.get(f"/dashboard/posts/{scheduled.id}").get_data(as_text=True)
    assert f"/dashboard/posts/{scheduled.id}/edit" not in post_page, "no edit link for a post going out"


def test_what_the_form_has_no_field_for_is_kept_and_a_contributors_edit_waits_for_approval(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    poster = upload(services, team.workspace, image("PNG"), "poster.png", alt_text="The poster")
    sandbox, news = team.channels
    request = PostRequest(
        text="Doors at seven.",
        targets=[
            TargetRequest(sandbox.id, thread=["Only on the sandbox."], media=[poster.id]),
            TargetRequest(news.id),
        ],
        scheduled_at=utcnow() + timedelta(days=2),
    )
    with services.sessions.begin() as session:
        post = create_post(session, services.networks, Actor.system(team.workspace.id), request, now=utcnow())
        post.author_id = team.contributor.id  # theirs, as if they had written it: theirs to change
    sign_in(client, team.contributor_token)
    page = edit_page(client, post.id)

    response = client.post(
        f"/dashboard/posts/{post.id}/edit", data=form_from(page, team, text="Doors at eight.")
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    saved = stored(services, post.id)
    [sandbox_target] = [target for target in saved.targets if target.channel_id == sandbox.id]
    assert (saved.text, list(sandbox_target.thread or [])) == ("Doors at eight.", ["Only on the sandbox."])
    assert [str(media_id) for media_id in sandbox_target.media or []] == [str(poster.id)]
    assert saved.stage is PostStage.PENDING_APPROVAL
    assert "It waits for an approver" in client.get(response.headers["Location"]).get_data(as_text=True)
