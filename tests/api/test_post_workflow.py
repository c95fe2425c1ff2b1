"""A post's way from draft to scheduled: approvals, edits with If-Match, cancel, publish now, duplicate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.scheduler.dispatcher import Dispatcher
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.workspaces.access import Role, Scope
from tests.api.conftest import ClientAs


def in_an_hour() -> str:
    return (utcnow() + timedelta(hours=1)).isoformat()


def new_post(client: FlaskClient, channel: Channel, **fields: Any) -> Any:
    body = {
        "text": "Spring meetup!",
        "channel_ids": [str(channel.id)],
        "scheduled_at": in_an_hour(),
        **fields,
    }
    response = client.post("/v1/posts", json=body)
    assert response.status_code == 201, response.json
    return response


def test_a_contributors_post_waits_for_approval_and_has_no_deliveries(
    client_as: ClientAs, channel: Channel
) -> None:
    post = new_post(client_as(Role.CONTRIBUTOR), channel).json

    assert post["state"] == "pending_approval"
    assert post["deliveries"] == []


def test_an_editor_approves_a_pending_post_and_it_is_scheduled_with_the_comment(
    client_as: ClientAs, channel: Channel
) -> None:
    post = new_post(client_as(Role.CONTRIBUTOR), channel).json
    editor = client_as(Role.EDITOR)

    response = editor.post(f"/v1/posts/{post['id']}/approve", json={"comment": "Lovely"})

    assert response.status_code == 200
    assert response.json["state"] == "scheduled"
    assert [d["state"] for d in response.json["deliveries"]] == ["scheduled"]
    assert response.json["review"]["comment"] == "Lovely"


def test_a_contributor_cannot_approve_and_a_read_token_cannot_write(
    client_as: ClientAs, channel: Channel
) -> None:
    post = new_post(client_as(Role.CONTRIBUTOR), channel).json

    refused = client_as(Role.CONTRIBUTOR).post(f"/v1/posts/{post['id']}/approve", json={})
    read_only = client_as(Role.OWNER, Scope.READ).post(
        "/v1/posts", json={"text": "x", "channel_ids": [str(channel.id)]}
    )

    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    assert "'approve'" in refused.json["detail"]
    assert read_only.status_code == 403


def test_a_rejected_post_goes_back_to_its_author_who_edits_and_resubmits_it(
    client_as: ClientAs, channel: Channel
) -> None:
    author = client_as(Role.CONTRIBUTOR)
    post = new_post(author, channel).json
    rejected = client_as(Role.EDITOR).post(f"/v1/posts/{post['id']}/reject", json={"comment": "Add a link"})

    edited = author.patch(f"/v1/posts/{post['id']}", json={"text": "Spring meetup! example.org"})
    resubmitted = author.post(f"/v1/posts/{post['id']}/submit")

    assert rejected.json["state"] == "rejected"
    assert rejected.json["review"]["comment"] == "Add a link"
    assert edited.status_code == 200, edited.json
    assert resubmitted.json["state"] == "pending_approval"


def test_a_post_not_approved_before_its_time_expires_and_the_log_says_why(
    client_as: ClientAs, channel: Channel, services: Services, workspace_client: FlaskClient
) -> None:
    post = new_post(client_as(Role.CONTRIBUTOR), channel).json

    report = Dispatcher(services, jobs=[], clock=lambda: utcnow() + timedelta(hours=2)).tick()

    assert report.unapproved_expired == 1
    after = workspace_client.get(f"/v1/posts/{post['id']}").json
    assert after["state"] == "expired"
    assert after["deliveries"] == []
    log = workspace_client.get("/v1/audit", query_string={"subject_id": post["id"]}).json["items"]
    assert [entry["action"] for entry in log] == ["post.expired", "post.approval_requested", "post.created"]
    assert log[0]["actor"] == "Crier"


def test_an_edit_from_a_stale_copy_is_refused_with_412_and_changes_nothing(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    created = new_post(workspace_client, channel)
    post_id, first_etag = created.json["id"], created.headers["ETag"]
    changed = workspace_client.patch(
        f"/v1/posts/{post_id}", json={"text": "Edited by Ana"}, headers={"If-Match": first_etag}
    )

    stale = workspace_client.patch(
        f"/v1/posts/{post_id}", json={"text": "Edited by Ben"}, headers={"If-Match": first_etag}
    )

    assert changed.status_code == 200
    assert changed.headers["ETag"] != first_etag
    assert stale.status_code == 412
    assert stale.content_type == "application/problem+json"
    assert workspace_client.get(f"/v1/posts/{post_id}").json["text"] == "Edited by Ana"


def test_rescheduling_moves_the_waiting_deliveries_to_the_new_time(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    post = new_post(workspace_client, channel).json
    later = (utcnow() + timedelta(days=1)).replace(microsecond=0)

    moved = workspace_client.patch(f"/v1/posts/{post['id']}", json={"scheduled_at": later.isoformat()})

    assert moved.status_code == 200, moved.json
    assert [d["scheduled_at"] for d in moved.json["deliveries"]] == [later.isoformat()]


def test_cancel_publish_now_and_duplicate(workspace_client: FlaskClient, channel: Channel) -> None:
    first = new_post(workspace_client, channel, labels=["spring"]).json
    second = new_post(workspace_client, channel).json

    cancelled = workspace_client.post(f"/v1/posts/{first['id']}/cancel").json
    now = workspace_client.post(f"/v1/posts/{second['id']}/publish-now").json
    copy = workspace_client.post(f"/v1/posts/{first['id']}/duplicate")

    assert cancelled["state"] == "cancelled"
    assert [d["state"] for d in cancelled["deliveries"]] == ["cancelled"]
    assert (
        utcnow() - timedelta(seconds=5) <= datetime.fromisoformat(now["deliveries"][0]["due_at"]) <= utcnow()
    )
    assert copy.status_code == 201
    assert copy.json["state"] == "draft"
    assert copy.json["labels"] == ["spring"]
    assert copy.json["id"] != first["id"]


def test_a_draft_is_kept_until_submitted(workspace_client: FlaskClient, channel: Channel) -> None:
    draft = new_post(workspace_client, channel, draft=True).json

    submitted = workspace_client.post(f"/v1/posts/{draft['id']}/submit").json

    assert draft["state"] == "draft"
    assert draft["deliveries"] == []
    assert submitted["state"] == "scheduled"
    assert len(submitted["deliveries"]) == 1


def test_a_retry_with_the_same_idempotency_key_returns_the_first_post(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    body = {"text": "Once only", "channel_ids": [str(channel.id)]}
    headers = {"Idempotency-Key": "6b1f1d1e-retry"}

    first = workspace_client.post("/v1/posts", json=body, headers=headers)
    retry = workspace_client.post("/v1/posts", json=body, headers=headers)
    other_body = workspace_client.post("/v1/posts", json={**body, "text": "Else"}, headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json["id"] == first.json["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert other_body.status_code == 422
    assert "Idempotency-Key" in other_body.json["detail"]
    assert len(workspace_client.get("/v1/posts").json["items"]) == 1


def test_posts_are_filtered_by_label_and_state_and_paged_with_a_cursor(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    ids = [new_post(workspace_client, channel, labels=["spring"]).json["id"] for _ in range(5)]
    new_post(workspace_client, channel, labels=["autumn"], draft=True)

    first = workspace_client.get("/v1/posts", query_string={"label": "spring", "limit": 2}).json
    second = workspace_client.get(
        "/v1/posts", query_string={"label": "spring", "limit": 2, "cursor": first["next_cursor"]}
    ).json
    third = workspace_client.get(
        "/v1/posts", query_string={"label": "spring", "limit": 2, "cursor": second["next_cursor"]}
    ).json
    drafts = workspace_client.get("/v1/posts", query_string={"state": "draft"}).json

    paged = [post["id"] for page in (first, second, third) for post in page["items"]]
    assert paged == list(reversed(ids))
    assert third["next_cursor"] is None
    assert [post["labels"] for post in drafts["items"]] == [["autumn"]]


def test_a_wall_clock_time_is_read_in_the_posts_timezone(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    post = new_post(
        workspace_client, channel, scheduled_at="2027-07-01T09:00:00", timezone="Europe/Paris"
    ).json

    assert post["scheduled_at"] == "2027-07-01T07:00:00+00:00"
    assert post["scheduled_local"] == "2027-07-01T09:00:00+02:00"


def test_an_unknown_timezone_is_a_422_on_timezone(workspace_client: FlaskClient, channel: Channel) -> None:
    response = workspace_client.post(
        "/v1/posts",
        json={"text": "x", "channel_ids": [str(channel.id)], "timezone": "Mars/Olympus_Mons"},
    )

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == ["/timezone"]


@pytest.mark.parametrize(
    ("wall_time", "zone", "instant"),
    [
        ("2027-01-15T09:00:00", "Europe/Paris", "2027-01-15T08:00:00+00:00"),
        ("2027-07-15T09:00:00", "Europe/Paris", "2027-07-15T07:00:00+00:00"),
        # 02:30 does not exist on 28 March 2027 in Paris: it moves forward by the gap, to 03:30 CEST.
        ("2027-03-28T02:30:00", "Europe/Paris", "2027-03-28T01:30:00+00:00"),
        # 02:30 happens twice on 31 October 2027: the first, still in summer time.
        ("2027-10-31T02:30:00", "Europe/Paris", "2027-10-31T00:30:00+00:00"),
        ("2027-01-15T09:00:00", "America/New_York", "2027-01-15T14:00:00+00:00"),
        ("2027-07-15T09:00:00", "America/New_York", "2027-07-15T13:00:00+00:00"),
        ("2027-01-15T09:00:00", "Australia/Sydney", "2027-01-14T22:00:00+00:00"),
        ("2027-07-15T09:00:00", "Australia/Sydney", "2027-07-14T23:00:00+00:00"),
    ],
)
def test_an_exact_wall_clock_time_is_the_right_instant_in_every_season(
    workspace_client: FlaskClient, channel: Channel, wall_time: str, zone: str, instant: str
) -> None:
    post = new_post(workspace_client, channel, scheduled_at=wall_time, timezone=zone).json

    assert post["scheduled_at"] == instant
    assert [delivery["scheduled_at"] for delivery in post["deliveries"]] == [instant]


def test_a_cursor_this_api_did_not_give_out_is_a_422_on_the_parameter(workspace_client: FlaskClient) -> None:
    naive_time = "WyIyMDI3LTAxLTAxVDAwOjAwOjAwIiwgIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd"

    for cursor in ("garbage", naive_time):
        response = workspace_client.get("/v1/posts", query_string={"cursor": cursor})

        assert response.status_code == 422
        assert response.json["errors"] == [
            {"parameter": "cursor", "detail": "Not a cursor this API gave out; pass next_cursor as is."}
        ]
