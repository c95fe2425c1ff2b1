"""GET /v1/analytics/responses: response rate and time to first reply, per channel and member; CSV too."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.deliveries.models import Delivery
from shared.inbox.models import InboxItem
from shared.workspaces.access import Role
from tests.api import test_inbox
from tests.api.conftest import ClientAs
from tests.api.test_inbox import answer, inbox, member_id, read_inboxes
from tests.driving import publish_what_is_due
from tests.inbox.conftest import Audience

# test_inbox.py's sandbox fixtures: pytest finds a fixture by its name in the module.
sandbox, audience, published = test_inbox.sandbox, test_inbox.audience, test_inbox.published

WRITTEN = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
PERIOD = {"from": "2026-05-01T00:00:00Z", "to": "2026-05-02T00:00:00Z"}


def written_at(services: Services, external_id: str, moment: datetime) -> str:
    with services.sessions.begin() as session:
        item = session.scalars(select(InboxItem).where(InboxItem.external_id == external_id)).one()
        item.created_at = moment
        return str(item.id)


def reply_out_after(
    client: FlaskClient, services: Services, item_id: str, seconds: int, text: str = "Thanks!"
) -> None:
    """A reply from Crier to the item, published `seconds` after the item was written."""
    post = client.post(f"/v1/inbox/{item_id}/replies", json={"text": text}).json
    publish_what_is_due(services)
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.post_id == uuid.UUID(post["id"]))
            .values(published_at=WRITTEN + timedelta(seconds=seconds))
        )


@pytest.fixture
def answered(
    client_as: ClientAs, services: Services, channel: Channel, published: Delivery, audience: Audience
) -> dict[str, str]:
    """Three items written in the period (the owner answers one in 90 s, an editor one in 30 s) and one
    written the day before; the member ids by role."""
    owner, editor = client_as(Role.OWNER), client_as(Role.EDITOR)
    external = {name: answer(audience, published, name) for name in ("first", "second", "third", "before")}
    read_inboxes(services)
    first = written_at(services, external["first"], WRITTEN)
    second = written_at(services, external["second"], WRITTEN)
    written_at(services, external["third"], WRITTEN)
    written_at(services, external["before"], WRITTEN - timedelta(days=1))
    reply_out_after(owner, services, first, 90)
    reply_out_after(editor, services, second, 30)
    assert len(inbox(owner)) == 4
    return {"owner": member_id(owner), "editor": member_id(editor)}


def test_the_period_s_response_rate_and_times_are_given_per_channel_and_member(
    workspace_client: FlaskClient, channel: Channel, answered: dict[str, str]
) -> None:
    response = workspace_client.get("/v1/analytics/responses", query_string=PERIOD)

    assert response.status_code == 200
    body = response.json
    assert (body["from"], body["to"], body["timezone"]) == (
        "2026-05-01T00:00:00+00:00", "2026-05-02T00:00:00+00:00", "UTC"
    )  # fmt: skip
    assert body["channels"] == [
        {
            "channel_id": str(channel.id),
            "items": 3,
            "answered": 2,
            "response_rate": pytest.approx(2 / 3),
            "median_seconds": 60.0,
            "mean_seconds": 60.0,
        }
    ]
    by_member = {row.pop("member_id"): row for row in body["members"]}
    assert by_member == {
        answered["owner"]: {
            "items": 1, "answered": 1, "response_rate": 1.0, "median_seconds": 90.0, "mean_seconds": 90.0
        },
        answered["editor"]: {
            "items": 1, "answered": 1, "response_rate": 1.0, "median_seconds": 30.0, "mean_seconds": 30.0
        },
    }  # fmt: skip


def test_the_same_figures_come_as_csv(
    workspace_client: FlaskClient, channel: Channel, answered: dict[str, str]
) -> None:
    response = workspace_client.get(
        "/v1/analytics/responses", query_string=PERIOD, headers={"Accept": "text/csv"}
    )

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="responses.csv"'
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["group", "id", "items", "answered", "response_rate", "median_seconds", "mean_seconds"]
    assert rows[1][:4] == ["channel", str(channel.id), "3", "2"]
    assert float(rows[1][4]) == pytest.approx(2 / 3)
    assert rows[1][5:] == ["60.0", "60.0"]
    assert sorted(rows[2:]) == sorted(
        [
            ["member", answered["owner"], "1", "1", "1.0", "90.0", "90.0"],
            ["member", answered["editor"], "1", "1", "1.0", "30.0", "30.0"],
        ]
    )


def test_a_period_without_items_has_no_rows(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/analytics/responses", query_string=PERIOD)

    assert response.status_code == 200
    assert (response.json["channels"], response.json["members"]) == ([], [])
