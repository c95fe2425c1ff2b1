"""Exports and the calendar read whatever the database holds without answering 500.

The data is written straight into the tables, as an older Crier, a network's odd answer or a hand in the
database might have left it: an address with CR/LF or a script in it, a very long one, a post's timezone
or a channel's posting schedule that no longer reads, control characters in texts and names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post

ODD_DELIVERIES: dict[str, dict[str, Any]] = {
    "CR/LF in the address": {"external_url": "https://x.example/a\r\nATTENDEE:mailto:all@example.org"},
    "a script for an address": {"external_url": "javascript:alert(document.cookie)"},
    "an address of 100,000 characters": {"external_url": "https://x.example/" + "a" * 100_000},
    "control characters everywhere": {
        "external_url": "https://x.example/\x1b[31m\x07",
        "external_id": "1\x002"[:1] + "\x1f\x7f",
        "last_error": "\x1b]0;pwned\x07" + "e" * 50_000,
    },
}
ODD_POSTS: dict[str, dict[str, Any]] = {
    "a timezone that no longer exists": {"timezone": "Mars/Olympus_Mons"},
    "a text of lines and controls": {"text": '=HYPERLINK("http://evil")\r\nline\x0bvtab\x1b[0m\u202eevil'},
    "an empty text": {"text": ""},
}
ODD_CHANNELS: dict[str, dict[str, Any]] = {
    "a timezone that no longer exists": {"timezone": "Atlantis/Capital"},
    "a posting schedule that does not read": {"posting_schedule": {"mon": "nine", "funday": ["25:99"]}},
    "a posting schedule that is not an object": {"posting_schedule": ["mon", 9]},
    "a name with a line break": {"name": 'Our\r\nchannel,"quoted"'},
}


def exports_of(client: FlaskClient) -> dict[str, Any]:
    now = utcnow().replace(microsecond=0)
    window = {"from": (now - timedelta(days=2)).isoformat(), "to": (now + timedelta(days=2)).isoformat()}
    return {
        "posts.csv": client.get("/v1/exports/posts.csv"),
        "calendar.ics": client.get("/v1/exports/calendar.ics", query_string=window),
        "calendar": client.get("/v1/calendar", query_string=window),
        "analytics posts": client.get("/v1/analytics/posts", headers={"Accept": "text/csv"}),
        "deliveries": client.get("/v1/deliveries"),
        "posts": client.get("/v1/posts"),
    }


def published_post(services: Services, workspace: Workspace, channel: Channel) -> Post:
    post = make_post(services, workspace, [channel], scheduled_at=utcnow() + timedelta(hours=1))
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.post_id == post.id)
            .values(
                state=DeliveryState.PUBLISHED,
                external_id="1",
                external_url="https://x.example/1",
                published_at=utcnow(),
            )
        )
    return post


@pytest.mark.parametrize("odd", ODD_DELIVERIES.values(), ids=ODD_DELIVERIES.keys())
def test_a_delivery_with_odd_stored_values_is_exported(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, odd: dict[str, Any]
):
    post = published_post(services, workspace, make_channel(services, workspace))
    with services.sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.post_id == post.id).values(**odd))

    answers = exports_of(workspace_client)

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 200)
    ics = answers["calendar.ics"].get_data()
    # No value may start a line of its own in the calendar file: each line is one property.
    assert b"\r\nATTENDEE" not in ics
    assert b"javascript:" not in ics


@pytest.mark.parametrize("odd", ODD_POSTS.values(), ids=ODD_POSTS.keys())
def test_a_post_with_odd_stored_values_is_exported(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, odd: dict[str, Any]
):
    post = published_post(services, workspace, make_channel(services, workspace))
    with services.sessions.begin() as session:
        session.execute(update(Post).where(Post.id == post.id).values(**odd))

    answers = exports_of(workspace_client)

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 200)


@pytest.mark.parametrize("odd", ODD_CHANNELS.values(), ids=ODD_CHANNELS.keys())
def test_a_channel_with_odd_stored_values_is_exported(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, odd: dict[str, Any]
):
    channel = make_channel(services, workspace, posting_schedule={"mon": ["09:00"]})
    published_post(services, workspace, channel)
    with services.sessions.begin() as session:
        session.execute(update(Channel).where(Channel.id == channel.id).values(**odd))

    answers = exports_of(workspace_client)

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 200)
