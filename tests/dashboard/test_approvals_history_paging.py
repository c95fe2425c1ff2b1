"""The approvals history beyond its newest 50 reviews: an "Older reviews" link pages back through the audit
log by (time, id), nothing lost or shown twice, and a filter lists one outcome only, kept while paging."""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, timedelta

from flask.testing import FlaskClient

from shared.audit.services import record
from shared.bootstrap import Services
from shared.db import utcnow
from shared.workspaces.access import Actor, Role, Scope
from tests.dashboard.conftest import sign_in
from tests.dashboard.posting_seeding import PostingTeam
from tests.dashboard.test_approvals_forms import contributors_post, decide, team
from tests.dashboard.test_approvals_history import history

__all__ = ["team"]  # the fixture, shared with the approvals forms' tests

OLDER = re.compile(r'<a href="([^"]+)" rel="next" data-test="older-reviews">')


def reviews_logged(
    services: Services, team: PostingTeam, actions: list[str], *, start: datetime, step: timedelta
) -> list[uuid.UUID]:
    """One review per action, as the workflow records them, the first at `start`, each `step` later;
    the subjects' ids, in that order."""
    editor = Actor.of(team.workspace.id, team.editor.id, Role.EDITOR, Scope.WRITE, team.editor.name)
    subjects = []
    with services.sessions.begin() as session:
        for number, action in enumerate(actions):
            subject = uuid.uuid4()
            entry = record(session, editor, action, "post", subject, comment=f"review {number}")
            entry.at = start + step * number
            subjects.append(subject)
    return subjects


def get_page(client: FlaskClient, address: str) -> str:
    response = client.get(address)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def older_link(page: str) -> str | None:
    found = OLDER.search(page)
    return found.group(1).replace("&amp;", "&") if found else None


def subjects_of(page: str) -> list[str]:
    return [line[0] for line in history(page)]


def test_an_older_reviews_link_pages_back_through_every_review_once(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    start = utcnow() - timedelta(days=30)
    subjects = reviews_logged(services, team, ["post.approved"] * 120, start=start, step=timedelta(minutes=5))
    newest_first = [str(subject) for subject in reversed(subjects)]
    sign_in(client, team.editor_token)

    first = get_page(client, "/dashboard/approvals")
    second_address = older_link(first)
    assert second_address is not None
    second = get_page(client, second_address)
    third_address = older_link(second)
    assert third_address is not None
    third = get_page(client, third_address)

    assert subjects_of(first) == newest_first[:50]
    assert subjects_of(second) == newest_first[50:100]
    assert subjects_of(third) == newest_first[100:]
    assert older_link(third) is None
    assert 'data-test="newest-reviews"' not in first
    assert 'data-test="newest-reviews"' in third
    assert "Older reviews</h2>" in second


def test_reviews_logged_at_the_same_moment_are_split_by_id_without_loss(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    subjects = reviews_logged(services, team, ["post.rejected"] * 53, start=utcnow(), step=timedelta(0))
    sign_in(client, team.editor_token)

    first = get_page(client, "/dashboard/approvals")
    older = older_link(first)
    assert older is not None
    second = get_page(client, older)

    shown = subjects_of(first) + subjects_of(second)
    assert len(shown) == 53
    assert sorted(shown) == sorted(str(subject) for subject in subjects)


def test_the_outcome_filter_lists_one_outcome_and_keeps_it_while_paging(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    start = utcnow() - timedelta(days=10)
    actions = ["post.approved", "post.rejected"] * 60
    subjects = reviews_logged(services, team, actions, start=start, step=timedelta(minutes=1))
    rejected = [
        str(subject) for subject, action in zip(subjects, actions, strict=True) if action == "post.rejected"
    ]
    sign_in(client, team.editor_token)

    first = get_page(client, "/dashboard/approvals?outcome=rejected")
    older = older_link(first)
    assert older is not None
    assert "outcome=rejected" in older
    second = get_page(client, older)
    approved_only = get_page(client, "/dashboard/approvals?outcome=approved")

    assert {line[1] for line in history(first) + history(second)} == {"post.rejected"}
    assert subjects_of(first) + subjects_of(second) == list(reversed(rejected))
    assert {line[1] for line in history(approved_only)} == {"post.approved"}
    assert '<option value="rejected" selected>' in first


def test_a_review_made_on_the_page_is_on_the_newest_page_of_its_outcome(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    start = utcnow() - timedelta(days=2)
    reviews_logged(services, team, ["post.approved"] * 60, start=start, step=timedelta(minutes=1))
    post = contributors_post(services, team, "Sent back today.")
    sign_in(client, team.editor_token)

    status, _ = decide(client, post.id, "reject", "Name the venue.")
    rejected = get_page(client, "/dashboard/approvals?outcome=rejected")
    older_approved = older_link(get_page(client, "/dashboard/approvals?outcome=approved"))
    assert older_approved is not None
    # The approved history's cursor, asked of the rejected one: no rejection is older than it.
    cursor = older_approved.split("before=")[1].split("#")[0]
    none_older = get_page(client, f"/dashboard/approvals?outcome=rejected&before={cursor}")

    assert status == 302
    assert history(rejected) == [(str(post.id), "post.rejected", "Mira Editor", "Name the venue.")]
    assert older_link(rejected) is None
    assert history(none_older) == []
    assert "No review matches." in none_older


def test_a_link_the_page_never_gave_out_is_refused_by_name(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    forged = client.get("/dashboard/approvals?before=not-a-cursor")
    unknown = client.get("/dashboard/approvals?outcome=maybe")

    assert forged.status_code == 400
    assert "That link to older reviews is not one this page gave out." in forged.get_data(as_text=True)
    assert unknown.status_code == 400
    assert "'maybe' is not an outcome the history filters by" in html.unescape(unknown.get_data(as_text=True))
