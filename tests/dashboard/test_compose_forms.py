"""The compose page without a browser: each problem beside its field with what was typed kept, nothing
stored by a refused form, and what each button and each role's submission makes of the post."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.posts.models import Post, PostStage, Timing
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.posting_seeding import PostingTeam, seed_posting_team

COMPOSE_KEY = re.compile(r'name="compose_key" value="([^"]+)"')
SANDBOX_LIMIT = 500


@pytest.fixture
def team(services: Services) -> PostingTeam:
    return seed_posting_team(services)


def compose_form(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    """The compose form as the page gives it, with `fields` filled in."""
    response = client.get("/dashboard/compose")
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    key = COMPOSE_KEY.search(page)
    assert key is not None, "the page has no compose form"
    return {"csrf_token": csrf_token_of(page), "compose_key": key.group(1), "timing": "now", **fields}


def send(client: FlaskClient, **fields: Any) -> Any:
    return client.post("/dashboard/compose", data=compose_form(client, **fields))


def error_beside(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="[^"]+" data-test="error-{field}">([^<]*)</p>', page)
    assert found is not None, f"no error beside {field}"
    return found.group(1)


def posts_count(services: Services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Post)) or 0


def post_of(services: Services, location: str) -> Post:
    post_id = uuid.UUID(location.rstrip("/").rsplit("/", 1)[1])
    with services.sessions() as session:
        return session.get_one(Post, post_id)


def channel_ids(team: PostingTeam) -> list[str]:
    return [str(channel.id) for channel in team.channels]


def test_an_empty_text_is_refused_beside_the_text(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send(client, text="   ", channel=channel_ids(team))

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(page, "text") == "Write the post&#39;s text."
    assert 'aria-describedby="text-error"' in page
    assert posts_count(services) == 0


def test_a_post_without_a_channel_is_refused_beside_the_channels(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send(client, text="Doors open at seven.")

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(page, "channels") == "Choose at least one channel to publish on."
    assert "Doors open at seven." in page, "what was typed is kept"
    assert posts_count(services) == 0


def test_a_text_over_the_sandbox_limit_is_refused_in_the_networks_words(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    too_long = "a" * (SANDBOX_LIMIT + 1)

    response = send(client, text=too_long, channel=channel_ids(team))

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    said = error_beside(page, "text")
    assert str(SANDBOX_LIMIT) in said
    assert all(channel.name in said for channel in team.channels), said
    assert too_long in page
    # The refusal shows the counts too, as the network counts them.
    assert f"{SANDBOX_LIMIT + 1} / {SANDBOX_LIMIT}" in page
    assert posts_count(services) == 0


def test_a_channels_variant_too_long_is_refused_beside_that_variant(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    news = team.channels[1]

    response = send(
        client, text="Short and fine.", channel=channel_ids(team), **{f"variant-{news.id}": "b" * 600}
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert news.name in error_beside(page, f"variant-{news.id}")
    assert 'data-test="error-text"' not in page, "the post's own text is fine"
    assert posts_count(services) == 0


def test_a_time_in_the_past_is_refused_beside_the_time(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = send(
        client, text="Too late.", channel=channel_ids(team), timing="at", at=yesterday, timezone="UTC"
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "in the past" in error_beside(page, "at")
    assert f'value="{yesterday}"' in page
    assert posts_count(services) == 0


def test_a_time_is_asked_for_when_publishing_at_a_time(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send(client, text="When?", channel=channel_ids(team), timing="at")

    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "at") == "Choose the date and time to publish at."


def test_a_bad_repeat_rule_is_refused_beside_the_rule(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = send(
        client,
        text="Every week.",
        channel=channel_ids(team),
        timing="recurrence",
        at=tomorrow,
        rule="FREQ=SOMETIMES",
    )

    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "rule")
    assert posts_count(services) == 0


def test_a_draft_is_saved_with_nothing_scheduled(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send(
        client, text="Still thinking.", channel=channel_ids(team), labels="spring, ideas", action="draft"
    )

    assert response.status_code == 302
    post = post_of(services, response.headers["Location"])
    assert (post.stage, post.deliveries, post.label_names) == (PostStage.DRAFT, [], ["ideas", "spring"])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved as a draft" in page
    assert '<span data-test="post-state">draft</span>' in page


def test_an_editors_post_at_a_time_in_a_timezone_is_scheduled_on_each_channel(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    news = team.channels[1]
    wall_clock = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0)

    response = send(
        client,
        text="Tickets on sale.",
        channel=channel_ids(team),
        timing="at",
        at=wall_clock.strftime("%Y-%m-%dT%H:%M"),
        timezone="Europe/Paris",
        thread=["First reply.", "", "Second reply."],
        **{f"variant-{news.id}": "Tickets on sale — news edition."},
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    post = post_of(services, response.headers["Location"])
    assert post.stage is PostStage.SCHEDULED
    assert post.timezone == "Europe/Paris"
    expected = wall_clock.replace(tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    assert post.scheduled_at == expected
    assert post.thread == ["First reply.", "Second reply."]
    assert [target.text for target in post.targets] == [None, "Tickets on sale — news edition."]
    assert sorted(str(delivery.channel_id) for delivery in post.deliveries) == sorted(channel_ids(team))


def test_a_post_into_the_queue_takes_the_channels_slot_and_a_channel_without_slots_is_named(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    sandbox, news = team.channels

    refused = send(client, text="Queued.", channel=channel_ids(team), timing="queue", queue="last")
    queued = send(client, text="Queued.", channel=[str(sandbox.id)], timing="queue", queue="next")

    assert refused.status_code == 422
    assert news.name in error_beside(refused.get_data(as_text=True), "channels")
    assert queued.status_code == 302
    post = post_of(services, queued.headers["Location"])
    assert post.timing is Timing.QUEUE
    [delivery] = post.deliveries
    assert (delivery.scheduled_at.hour, delivery.scheduled_at.minute) in {(9, 0), (17, 0)}


def test_a_contributors_post_is_sent_for_approval(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.contributor_token)
    form_page = client.get("/dashboard/compose").get_data(as_text=True)

    response = send(client, text="May I?", channel=channel_ids(team))

    assert "Send for approval</button>" in form_page
    assert response.status_code == 302
    post = post_of(services, response.headers["Location"])
    assert (post.stage, post.deliveries, post.author_id) == (
        PostStage.PENDING_APPROVAL,
        [],
        team.contributor.id,
    )


def test_the_same_form_sent_twice_makes_one_post(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    form = compose_form(client, text="Once only.", channel=channel_ids(team))

    first = client.post("/dashboard/compose", data=form)
    again = client.post("/dashboard/compose", data=form)

    assert (first.status_code, again.status_code) == (302, 302)
    assert first.headers["Location"] == again.headers["Location"]
    assert posts_count(services) == 1


def test_check_shows_each_channels_count_as_its_network_counts_and_stores_nothing(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)
    news = team.channels[1]

    response = send(
        client,
        text="Hello 👋🏽 world",
        channel=channel_ids(team),
        thread=["And more."],
        action="check",
        **{f"variant-{news.id}": "x" * 501},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    counts = re.findall(r'data-test="count" data-length="(\d+)" data-limit="(\d+)"', page)
    # The sandbox counts graphemes: the waving hand with its skin tone is one.
    assert counts == [("13", "500"), ("9", "500"), ("501", "500"), ("9", "500")]
    assert page.count('data-sendable="false"') == 1
    assert 'data-test="text-problem"' in page
    assert posts_count(services) == 0


def test_the_preview_part_alone_answers_the_script(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = client.post(
        "/dashboard/compose/preview", data=compose_form(client, text="Hi", channel=[str(team.channels[0].id)])
    )

    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.findall(r'data-test="count" data-length="(\d+)"', fragment) == ["2"]
    assert "<html" not in fragment


def test_add_a_reply_draws_the_form_again_with_one_more_reply_and_everything_kept(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send(
        client, text="A thread.", channel=channel_ids(team), thread=["One."], labels="x", action="add_reply"
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="thread-1" name="thread" rows="3" autofocus' in page
    assert ">One.</textarea>" in page
    assert page.count(" checked>") >= 2 + 1  # both channels, and the timing
    assert posts_count(services) == 0


def test_only_active_channels_are_offered(client: FlaskClient, services: Services, team: PostingTeam) -> None:
    sign_in(client, team.editor_token)

    page = client.get("/dashboard/compose").get_data(as_text=True)

    assert all(f'value="{channel.id}"' in page for channel in team.channels)
    assert f'value="{team.paused.id}"' not in page


def test_a_viewer_cannot_compose(client: FlaskClient, services: Services, team: PostingTeam) -> None:
    sign_in(client, team.viewer_token)

    assert client.get("/dashboard/compose").status_code == 403


def test_a_form_from_elsewhere_is_refused(client: FlaskClient, services: Services, team: PostingTeam) -> None:
    sign_in(client, team.editor_token)
    form = compose_form(client, text="Forged.", channel=channel_ids(team))

    response = client.post("/dashboard/compose", data={**form, "csrf_token": "forged"})

    assert response.status_code == 400
    assert posts_count(services) == 0


def test_a_timing_the_form_never_offers_is_refused_beside_the_timing(
    client: FlaskClient, services: Services, team: PostingTeam
) -> None:
    sign_in(client, team.editor_token)

    response = send(client, text="Whenever.", channel=channel_ids(team), timing="whenever")

    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "timing") == "Choose when to publish."
    assert posts_count(services) == 0
