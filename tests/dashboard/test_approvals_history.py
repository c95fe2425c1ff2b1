"""The approvals page's history: each post approved or sent back, by whom, when and with what comment,
newest first, read from the audit log, so a post sent back and later approved shows both reviews."""

from __future__ import annotations

import re
import uuid

from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.db import utcnow
from shared.posts.models import Post
from shared.workflow.services import submit
from shared.workspaces.access import Actor, Role, Scope
from tests.dashboard.conftest import sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.dashboard.test_approvals_forms import approvals_page, contributors_post, decide, team

__all__ = ["team"]  # the fixture, shared with the approvals forms' tests

REVIEW = re.compile(
    r'<li class="approval" data-post-id="([^"]+)" data-action="([a-z.]+)">.*?'
    r'data-test="review-by">([^<]+)</span>.*?(?:data-test="review-comment">“([^”]*)”.*?)?</li>',
    re.S,
)


def history(page: str) -> list[tuple[str, str, str, str]]:
    """The history's lines as (post id, action, who, comment), in the order the page lists them."""
    section = page[page.index('id="reviewed"') :]
    return REVIEW.findall(section[: section.index("</section>")])


def sent_again(services: Services, team: PostingTeam, post_id: uuid.UUID) -> None:
    """The contributor submits the post sent back to them again, as POST /v1/posts/{id}/submit does."""
    contributor = Actor.of(
        team.workspace.id, team.contributor.id, Role.CONTRIBUTOR, Scope.WRITE, team.contributor.name
    )
    with services.sessions.begin() as session:
        submit(session, contributor, session.get_one(Post, post_id), now=utcnow())


def test_the_history_lists_each_review_newest_first_with_who_and_the_comment(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    poster = contributors_post(services, team, "The poster for the fair.")
    flyer = contributors_post(services, team, "The flyer.")
    sign_in(client, team.editor_token)
    before = approvals_page(client)

    decide(client, poster.id, "reject", "Say when the doors open.")
    sent_again(services, team, poster.id)
    decide(client, poster.id, "approve", "Good now.")
    decide(client, flyer.id, "approve")
    page = approvals_page(client)

    assert 'data-test="nothing-reviewed"' in before
    assert history(page) == [
        (str(flyer.id), "post.approved", "Mira Editor", ""),
        (str(poster.id), "post.approved", "Mira Editor", "Good now."),
        (str(poster.id), "post.rejected", "Mira Editor", "Say when the doors open."),
    ]
    assert page.count('<strong data-test="review-verdict">Sent back</strong>') == 1
    assert "The flyer." in page[page.index('id="reviewed"') :]


def test_the_history_is_the_workspace_s_own_and_only_approvers_see_it(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    other = seed_posting_team(services, "Other")
    theirs = contributors_post(services, other, "Not yours to see.")
    sign_in(client, other.editor_token)
    decide(client, theirs.id, "reject", "Their comment.")
    ours = contributors_post(services, team)
    sign_in(client, team.editor_token)
    decide(client, ours.id, "reject", "Our comment.")

    editors_page = approvals_page(client)
    sign_in(client, team.contributor_token)
    contributors_page = approvals_page(client)

    assert history(editors_page) == [(str(ours.id), "post.rejected", "Mira Editor", "Our comment.")]
    assert "Their comment." not in editors_page
    assert 'id="reviewed"' not in contributors_page
