"""A post's metrics on its page: the series GET /v1/analytics/posts/{id}/series gives, drawn as a chart, and
each channel's latest counts, a count the network did not give said so rather than shown as 0."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.db import utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.metrics.models import MetricSample
from shared.posts.models import Post
from tests.dashboard.conftest import sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team
from tests.factories import make_post

LATEST_ROW = re.compile(r'<tr data-delivery-id="([^"]+)">(.*?)</tr>', re.S)
VALUE = re.compile(r'<desc class="value">([^<]*)</desc>')
CELL = re.compile(r'<td data-metric="([a-z]+)">([^<]*)</td>')


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def published_on(services: Services, post: Post, channel_index: int, at: datetime) -> uuid.UUID:
    """Mark one of the post's deliveries published at `at`, as a worker would have; its id."""
    delivery_id = post.deliveries[channel_index].id
    with services.sessions.begin() as session:
        delivery = session.get_one(Delivery, delivery_id)
        delivery.state, delivery.published_at = DeliveryState.PUBLISHED, at
        delivery.external_id = uuid.uuid4().hex
    return delivery_id


def add_sample(services: Services, delivery_id: uuid.UUID, at: datetime, **counts: int) -> None:
    with services.sessions.begin() as session:
        session.add(MetricSample(delivery_id=delivery_id, collected_at=at, raw={}, **counts))


def plotted(page: str) -> list[list[str]]:
    """The values of each line of the page's metrics chart, in order, as pygal writes them into the SVG."""
    chart = page[page.index('data-test="metrics-chart"') : page.index("</svg>")]
    overlay = chart[chart.index('class="plot overlay"') : chart.index('class="plot text-overlay"')]
    return [VALUE.findall(line) for line in overlay.split('class="series serie-')[1:]]


def latest_counts(page: str) -> dict[str, dict[str, str]]:
    """The latest-counts table: each delivery's cells by metric, as the page shows them."""
    table = page[page.index('data-test="latest-counts"') :]
    return {
        delivery_id: dict(CELL.findall(row))
        for delivery_id, row in LATEST_ROW.findall(table[: table.index("</table>")])
    }


def test_a_published_post_shows_its_series_as_a_chart_and_its_latest_counts_with_unknown_not_zero(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    now = utcnow()
    post = make_post(
        services, team.workspace, team.channels, text="Counted.", scheduled_at=now + timedelta(days=3)
    )
    went_out = now - timedelta(days=3)
    read = published_on(services, post, 0, went_out)
    unread = published_on(services, post, 1, went_out)
    add_sample(services, read, went_out + timedelta(hours=2), likes=2, replies=0)
    add_sample(services, read, went_out + timedelta(days=1, hours=2), likes=5, replies=1)
    sign_in(client, team.editor_token)

    page = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    series = client.get(
        f"/v1/analytics/posts/{post.id}/series",
        headers={"Authorization": f"Bearer {team.editor_token}"},
        query_string={"from": went_out.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()},
    ).json
    assert series is not None

    likes = [str(point["likes"]) for point in series["points"]]
    replies = [str(point["replies"]) for point in series["points"]]
    assert likes[:2] == ["2", "3"]
    # One line per interaction count reported, the API's gains point for point; none for views or quotes.
    assert plotted(page) == [likes, replies]
    assert 'aria-label="What the post gained each day, one line per metric"' in page
    counts = latest_counts(page)
    assert counts[str(read)]["likes"] == "5"
    assert counts[str(read)]["replies"] == "1"
    assert counts[str(read)]["interactions"] == "6"
    assert counts[str(read)]["views"] == "not given"
    assert counts[str(read)]["quotes"] == "not given"
    assert set(counts[str(unread)].values()) == {"not given"}


def test_a_post_not_yet_out_has_no_metrics_section_and_one_never_read_says_so(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    now = utcnow()
    waiting = make_post(
        services, team.workspace, [team.channels[0]], text="Later.", scheduled_at=now + timedelta(days=1)
    )
    out = make_post(
        services, team.workspace, [team.channels[0]], text="Just out.", scheduled_at=now + timedelta(days=1)
    )
    published_on(services, out, 0, now - timedelta(hours=1))
    sign_in(client, team.viewer_token)

    waiting_page = client.get(f"/dashboard/posts/{waiting.id}").get_data(as_text=True)
    out_page = client.get(f"/dashboard/posts/{out.id}").get_data(as_text=True)

    assert 'id="metrics"' not in waiting_page
    assert 'data-test="no-metrics"' in out_page
    assert "What it gained each hour" in out_page
    assert "not yet" in out_page
