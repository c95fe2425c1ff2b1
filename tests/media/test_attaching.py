"""A post's media is checked against each channel's network: every problem points at its list or item."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.errors import InvalidInput, Problem
from shared.media.models import MediaAsset
from shared.posts.models import Post
from shared.posts.requests import PostRequest, TargetRequest
from shared.workflow.services import create_post
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from shared.workspaces.services import get_or_create_workspace
from tests.factories import make_channel, make_slack_channel, make_workspace
from tests.media.samples import bluesky_channel, image, mastodon_channel, upload, video

BLUESKY_IMAGE_LIMIT = 1_000_000


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return make_workspace(services)[0]


def post(
    services: Services,
    workspace: Workspace,
    targets: Sequence[TargetRequest],
    media: Sequence[MediaAsset] = (),
) -> Post:
    request = PostRequest(
        text="Photos from the meetup",
        targets=targets,
        media=[asset.id for asset in media],
        scheduled_at=utcnow() + timedelta(days=1),
    )
    with services.sessions.begin() as session:
        return create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())


def problems_of(
    services: Services,
    workspace: Workspace,
    targets: Sequence[TargetRequest],
    media: Sequence[MediaAsset] = (),
) -> list[Problem]:
    with pytest.raises(InvalidInput) as refused:
        post(services, workspace, targets, media)
    return refused.value.problems


def on(channel: Channel, media: Sequence[MediaAsset] | None = None) -> TargetRequest:
    return TargetRequest(channel.id, media=None if media is None else [asset.id for asset in media])


def test_media_that_fits_every_channel_is_attached_in_order(services: Services, workspace: Workspace) -> None:
    bluesky, mastodon = bluesky_channel(services, workspace), mastodon_channel(services, workspace)
    first, second = upload(services, workspace, image("PNG")), upload(services, workspace, image("JPEG"))

    made = post(services, workspace, [on(bluesky), on(mastodon)], [second, first])

    assert made.media == [str(second.id), str(first.id)]
    assert made.media_for(bluesky.id) == made.media_for(mastodon.id) == [second.id, first.id]


def test_more_images_than_bluesky_takes_is_a_problem_with_the_list(
    services: Services, workspace: Workspace
) -> None:
    bluesky = bluesky_channel(services, workspace)
    images = [upload(services, workspace, image(size=(n + 1, 1))) for n in range(5)]

    assert problems_of(services, workspace, [on(bluesky)], images) == [
        Problem("/media", "Bluesky (bluesky): 5 attached; Bluesky takes at most 4.")
    ]


def test_an_image_over_bluesky_s_size_limit_is_a_problem_with_that_image(
    services: Services, workspace: Workspace
) -> None:
    bluesky = bluesky_channel(services, workspace)
    small = upload(services, workspace, image(), "small.png")
    large = upload(services, workspace, image(padding=BLUESKY_IMAGE_LIMIT), "large.png")

    [problem] = problems_of(services, workspace, [on(bluesky)], [small, large])

    assert problem.pointer == "/media/1"
    assert problem.detail == (
        f"Bluesky (bluesky): large.png is {large.size:,} bytes; Bluesky takes at most 1,000,000 bytes."
    )


def test_a_type_the_network_does_not_take_is_a_problem_with_that_item(
    services: Services, workspace: Workspace
) -> None:
    bluesky = bluesky_channel(services, workspace)
    clip = upload(services, workspace, video(), "clip.mp4")

    [problem] = problems_of(services, workspace, [on(bluesky)], [clip])

    assert problem.pointer == "/media/0"
    assert problem.detail.startswith("Bluesky (bluesky): clip.mp4 is video/mp4; Bluesky takes image/jpeg")


def test_a_variant_s_own_media_is_checked_where_it_is(services: Services, workspace: Workspace) -> None:
    sandbox, mastodon, bluesky = (
        make_channel(services, workspace),
        mastodon_channel(services, workspace),
        bluesky_channel(services, workspace),
    )
    fine = upload(services, workspace, image())
    clip = upload(services, workspace, video(), "clip.mp4")

    problems = problems_of(
        services, workspace, [on(sandbox, []), on(mastodon, [clip]), on(bluesky, [fine, clip])]
    )

    assert [problem.pointer for problem in problems] == ["/channels/2/media/1"]
    assert problems[0].detail.startswith("Bluesky (bluesky): clip.mp4 is video/mp4;")


def test_a_network_that_takes_no_media_asks_for_an_empty_variant(
    services: Services, workspace: Workspace
) -> None:
    slack = make_slack_channel(services, workspace)
    bluesky = bluesky_channel(services, workspace)
    picture = upload(services, workspace, image())

    assert problems_of(services, workspace, [on(bluesky), on(slack)], [picture]) == [
        Problem(
            "/media",
            "Team chat (slack): Slack takes no media from Crier: "
            "give this channel `media: []` in its variant.",
        )
    ]
    made = post(services, workspace, [on(bluesky), on(slack, [])], [picture])
    assert made.media_for(bluesky.id) == [picture.id]
    assert made.media_for(slack.id) == []


def test_alt_text_longer_than_mastodon_takes_is_a_problem(services: Services, workspace: Workspace) -> None:
    mastodon = mastodon_channel(services, workspace)
    described = upload(services, workspace, image(), "chart.png", alt_text="x" * 1501)

    assert problems_of(services, workspace, [on(mastodon)], [described]) == [
        Problem(
            "/media/0",
            "Mastodon (mastodon): chart.png's alt text is 1501 characters; Mastodon takes at most 1500.",
        )
    ]


def test_media_of_another_workspace_or_none_at_all_is_not_found(
    services: Services, workspace: Workspace
) -> None:
    bluesky = bluesky_channel(services, workspace)
    with services.sessions.begin() as session:
        elsewhere = get_or_create_workspace(session, "Another agency")
    theirs = upload(services, elsewhere, image())
    nowhere = uuid.uuid4()
    request = PostRequest(
        text="Not ours",
        targets=[TargetRequest(bluesky.id, media=[nowhere])],
        media=[theirs.id],
        scheduled_at=utcnow() + timedelta(days=1),
    )

    with pytest.raises(InvalidInput) as refused, services.sessions.begin() as session:
        create_post(session, services.networks, Actor.system(workspace.id), request, now=utcnow())

    assert refused.value.problems == [
        Problem("/media/0", f"There is no media {theirs.id} here."),
        Problem("/channels/0/media/0", f"There is no media {nowhere} here."),
    ]


def test_the_same_media_twice_in_one_list_is_a_problem(services: Services, workspace: Workspace) -> None:
    bluesky = bluesky_channel(services, workspace)
    picture = upload(services, workspace, image())

    assert problems_of(services, workspace, [on(bluesky)], [picture, picture]) == [
        Problem("/media/1", f"Media {picture.id} is attached more than once.")
    ]
