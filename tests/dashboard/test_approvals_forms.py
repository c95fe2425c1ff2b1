"""Approvals without a browser: the queue an approver works, approve and send back with a comment (a
comment required to send back), a contributor's own posts with the approver's word, and who may decide."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.db import utcnow
from shared.posts.models import Post, PostStage
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor, Role, Scope
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team

# The version the approve form was drawn with: the post as the approver saw it.
VERSION_OF = (
    r'action="/dashboard/approvals/{}/approve">\s*<input type="hidden" name="csrf_token" value="[^"]+">'
    r'\s*<input type="hidden" name="version" value="(\d+)"'
)


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def contributors_post(services: Services, team: PostingTeam, text: str = "May I post this?") -> Post:
    """A post the contributor wrote, waiting for an approver, for tomorrow."""
    contributor = Actor.of(
        team.workspace.id, team.contributor.id, Role.CONTRIBUTOR, Scope.WRITE, team.contributor.name
    )
    request = PostRequest(
        text=text,
        targets=[TargetRequest(channel.id) for channel in team.channels],
        scheduled_at=utcnow() + timedelta(days=1),
    )
    with services.sessions.begin() as session:
        post = create_post(session, services.networks, contributor, request, now=utcnow())
    assert post.stage is PostStage.PENDING_APPROVAL
    return post


def read_post(services: Services, post_id: uuid.UUID) -> Post:
    with services.sessions() as session:
        return session.get_one(Post, post_id)


def approvals_page(client: FlaskClient) -> str:
    response = client.get("/dashboard/approvals")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def decide(client: FlaskClient, post_id: uuid.UUID, decision: str, comment: str = "") -> tuple[int, str]:
    page = approvals_page(client)
    version = re.search(VERSION_OF.format(post_id), page)
    response = client.post(
        f"/dashboard/approvals/{post_id}/{decision}",
        data={
            "csrf_token": csrf_token_of(page),
            "version": version.group(1) if version else "1",
            "comment": comment,
        },
    )
    return response.status_code, response.get_data(as_text=True)


def test_an_editor_sees_the_post_waiting_and_approves_it(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = contributors_post(services, team)
    sign_in(client, team.editor_token)

    page = approvals_page(client)
    status, _ = decide(client, post.id, "approve", "Lovely.")

    assert f'data-post-id="{post.id}"' in page
    assert "By Cody Contributor" in page
    assert status == 302
    approved = read_post(services, post.id)
    assert (approved.stage, approved.review_comment, approved.reviewed_by) == (
        PostStage.SCHEDULED,
        "Lovely.",
        team.editor.id,
    )
    assert len(approved.deliveries) == 2
    assert 'data-test="nothing-waiting"' in approvals_page(client)


def test_sending_back_needs_a_comment_which_the_contributor_then_reads(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = contributors_post(services, team)
    sign_in(client, team.editor_token)

    refused, refused_page = decide(client, post.id, "reject", "   ")
    status, _ = decide(client, post.id, "reject", "Say when the doors open.")
    sign_in(client, team.contributor_token)
    own = approvals_page(client)

    assert refused == 422
    assert f'data-test="error-comment-{post.id}">Say what the author should change' in refused_page
    assert status == 302
    assert read_post(services, post.id).stage is PostStage.REJECTED
    assert '<span data-test="own-state">rejected</span>' in own
    assert "Mira Editor: “Say when the doors open.”" in own


def test_a_post_changed_since_the_approver_saw_it_is_not_approved(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    post = contributors_post(services, team)
    sign_in(client, team.editor_token)
    page = approvals_page(client)

    response = client.post(
        f"/dashboard/approvals/{post.id}/approve",
        data={"csrf_token": csrf_token_of(page), "version": str(post.version - 1), "comment": ""},
    )

    assert response.status_code == 412
    assert read_post(services, post.id).stage is PostStage.PENDING_APPROVAL


@pytest.mark.parametrize("who", ["viewer", "contributor"])
def test_a_member_who_may_not_approve_cannot(
    client: FlaskClient, services: Services, team: PostingTeam, who: str
) -> None:
    post = contributors_post(services, team)
    sign_in(client, team.viewer_token if who == "viewer" else team.contributor_token)

    page = approvals_page(client)
    approving, _ = decide(client, post.id, "approve")
    rejecting, _ = decide(client, post.id, "reject", "No.")

    assert f'action="/dashboard/approvals/{post.id}/approve"' not in page
    assert (approving, rejecting) == (403, 403)
    assert read_post(services, post.id).stage is PostStage.PENDING_APPROVAL


def test_a_contributor_sees_only_their_own_posts_waiting(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    mine = contributors_post(services, team, "Mine.")
    other = seed_posting_team(services, "Elsewhere")
    theirs = contributors_post(services, other, "Another team's.")
    sign_in(client, team.contributor_token)

    page = approvals_page(client)

    assert f'data-post-id="{mine.id}"' in page
    assert '<span data-test="own-state">pending approval</span>' in page
    assert f'data-post-id="{theirs.id}"' not in page
    assert 'id="waiting"' not in page
