"""GET /v1/calendar: posts and free queue slots, shown in the timezone asked for."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.db import utcnow
from shared.workspaces.models import Workspace
from tests.factories import make_channel

PARIS = ZoneInfo("Europe/Paris")
EVERY_DAY_AT_NINE = {day: ["09:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def test_the_calendar_shows_a_queued_post_and_the_free_slots_in_the_asked_zone(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    paris = make_channel(
        services, workspace, "Paris", timezone="Europe/Paris", posting_schedule=EVERY_DAY_AT_NINE
    )
    queued = workspace_client.post(
        "/v1/posts", json={"text": "Queued", "channel_ids": [str(paris.id)], "queue": "last"}
    ).json
    start = utcnow().replace(microsecond=0)

    response = workspace_client.get(
        "/v1/calendar",
        query_string={
            "from": start.isoformat(),
            "to": (start + timedelta(days=7)).isoformat(),
            "tz": "America/New_York",
        },
    )

    assert response.status_code == 200, response.json
    body = response.json
    [entry] = body["entries"]
    assert entry["post_id"] == queued["id"]
    at = datetime.fromisoformat(entry["at"])
    assert at == datetime.fromisoformat(queued["deliveries"][0]["scheduled_at"])
    assert at.utcoffset() in {timedelta(hours=-5), timedelta(hours=-4)}  # shown in New York time
    free = [datetime.fromisoformat(slot["at"]) for slot in body["free_slots"]]
    assert at not in free
    assert len(free) in {6, 7}  # a slot a day for a week, less the one the post took
    assert all(slot.astimezone(PARIS).hour == 9 for slot in free)


def test_a_span_longer_than_a_quarter_is_a_422(workspace_client: FlaskClient) -> None:
    response = workspace_client.get(
        "/v1/calendar", query_string={"from": "2027-01-01T00:00:00Z", "to": "2027-06-01T00:00:00Z"}
    )

    assert response.status_code == 422
    assert response.json["errors"][0]["pointer"] == "/to"
