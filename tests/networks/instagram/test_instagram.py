"""The Instagram adapter against a fake Graph API over real HTTP: containers made from media the fake fetches,
each published at most once, answers lost on the way settled by the container, the first comment as a part
of its own, counts, deletion, the account, and connecting it through Facebook Login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.networks.ports import (
    Account,
    AuthExpired,
    CannotTell,
    Draft,
    MediaItem,
    OutcomeUnknown,
    PublishedPart,
    RateLimited,
    Rejected,
    Transient,
)
from tests.media.samples import image, video
from tests.networks.instagram.fake import FakeInstagram, IgAccount
from tests.networks.instagram.media_host import MediaHost
from tests.networks.instagram.support import account_of, key, make_network, photo

# -- Publishing ------------------------------------------------------------------------------------


def test_a_photo_is_fetched_by_the_network_made_a_container_and_published_once(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network = make_network(fake)
    draft = photo(host)

    post = network.publish(account_of(alice), draft, key())

    [media] = fake.media_of(alice)
    assert post.external_id == media["id"]
    assert post.url == media["permalink"]
    assert post.created_at is not None
    assert media["caption"] == draft.text
    [container] = fake.containers.values()
    assert container.fetched == [image("JPEG")]
    assert container.fields["alt_text"] == "Twelve people"
    assert fake.versions == {"v24.0"}


def test_a_carousel_is_a_container_per_item_then_one_of_them_all(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    draft = Draft(text="Two of them", media=(host.item(image("JPEG")), host.item(video(), "video/mp4")))

    make_network(fake).publish(account_of(alice), draft, key())

    children = [c for c in fake.containers.values() if c.fields.get("is_carousel_item") == "true"]
    [carousel] = [c for c in fake.containers.values() if c.fields.get("media_type") == "CAROUSEL"]
    assert [c.fields.get("media_type", "IMAGE") for c in children] == ["IMAGE", "VIDEO"]
    assert carousel.fields["children"] == ",".join(c.id for c in children)
    assert len(fake.media_of(alice)) == 1


def test_a_video_goes_out_as_a_reel_once_instagram_has_processed_it(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.processing_polls = 3
    draft = Draft(text="A reel", media=(host.item(video(), "video/mp4"),))

    make_network(fake).publish(account_of(alice), draft, key())

    [container] = fake.containers.values()
    assert container.fields["media_type"] == "REELS"
    assert container.status == "PUBLISHED"


def test_a_container_still_processing_is_resumed_by_the_next_attempt_not_made_again(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network, draft, delivery = make_network(fake), photo(host), key()
    fake.stuck_in_progress = True

    with pytest.raises(Transient, match="still processing"):
        network.publish(account_of(alice), draft, delivery)
    fake.stuck_in_progress = False
    network.publish(account_of(alice), draft, delivery)

    assert len(fake.containers) == 1
    assert len(fake.media_of(alice)) == 1


@pytest.mark.parametrize("lost", ["502", "disconnect", "html200"])
def test_an_answer_lost_after_the_post_landed_is_settled_by_the_container_at_once(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost, lost: str
) -> None:
    fake.after_publish = lost

    post = make_network(fake).publish(account_of(alice), photo(host), key())

    [media] = fake.media_of(alice)
    assert (post.external_id, post.url) == (media["id"], media["permalink"])


def test_an_answer_that_never_comes_is_settled_the_same_way(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.after_publish = "stall"

    post = make_network(fake, read_timeout=0.5).publish(account_of(alice), photo(host), key())

    assert [media["id"] for media in fake.media_of(alice)] == [post.external_id]


def test_a_failure_before_publishing_is_retried_with_the_same_container_and_posts_once(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network, draft, delivery = make_network(fake), photo(host), key()
    fake.refuse_next_publish = (502, {"note": "a proxy's answer, the server never saw it"})

    with pytest.raises(Transient, match="not published"):
        network.publish(account_of(alice), draft, delivery)
    network.publish(account_of(alice), draft, delivery)

    assert len(fake.containers) == 1
    assert len(fake.media_of(alice)) == 1


def test_a_used_up_daily_limit_waits_without_making_a_container(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.quota_total = 0

    with pytest.raises(RateLimited) as limited:
        make_network(fake).publish(account_of(alice), photo(host), key())

    assert limited.value.reset_at is not None
    assert limited.value.reset_at > datetime.now(UTC)
    assert fake.containers == {}


def test_a_rate_limit_waits_until_the_business_use_case_usage_says(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.rate_limit_next = 1
    before = datetime.now(UTC)

    with pytest.raises(RateLimited) as limited:
        make_network(fake).publish(account_of(alice), photo(host), key())

    assert limited.value.reset_at is not None
    assert timedelta(minutes=6) < limited.value.reset_at - before < timedelta(minutes=8)


def test_an_expired_token_asks_for_reconnection(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.token_expired = True

    with pytest.raises(AuthExpired, match="code 190"):
        make_network(fake).publish(account_of(alice), photo(host), key())


def test_media_instagram_cannot_take_is_refused_with_its_words(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    draft = Draft(text="Not a JPEG after all", media=(host.item(image("PNG"), served_as="image/png"),))

    with pytest.raises(Rejected, match="2207009"):
        make_network(fake).publish(account_of(alice), draft, key())
    assert fake.media == {}


def test_a_container_instagram_could_not_process_is_refused(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.next_container_error = True

    with pytest.raises(Rejected, match="ERROR"):
        make_network(fake).publish(account_of(alice), photo(host), key())


def test_media_without_a_public_address_are_refused_before_anything_is_sent(
    fake: FakeInstagram, alice: IgAccount
) -> None:
    draft = Draft(text="No address", media=(MediaItem("image/jpeg", image("JPEG")),))

    with pytest.raises(Rejected, match="CRIER_PUBLIC_URL"):
        make_network(fake).publish(account_of(alice), draft, key())
    assert fake.containers == {}


def test_what_instagram_would_refuse_is_said_before_publishing(fake: FakeInstagram, host: MediaHost) -> None:
    network = make_network(fake)
    one = host.item(image("JPEG"))

    assert network.info.media is not None
    assert network.info.media.min_items == 1
    with pytest.raises(Rejected, match="no text-only posts"):
        network.publish(
            Account("c", "h", credentials={"access_token": "t", "ig_user_id": "1"}),
            Draft("Text alone"),
            key(),
        )
    assert network.validate(Draft(text="ok", media=(one,))) == []
    assert any("at most 10" in p for p in network.validate(Draft(text="ok", media=(one,) * 11)))
    assert any("threads" in p for p in network.validate(Draft(text="ok", thread=("more",), media=(one,))))
    assert any(
        "image/png" in p for p in network.validate(Draft(text="ok", media=(MediaItem("image/png", b"x"),)))
    )
    assert any("hashtags" in p for p in network.validate(Draft(text="#a " * 31, media=(one,))))
    assert any(
        "first comment" in p
        for p in network.validate(Draft("ok", media=(one,), options={"first_comment": "x" * 2201}))
    )


# -- The first comment -------------------------------------------------------------------------------


def test_the_first_comment_is_the_posts_next_part(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    post = make_network(fake).publish(account_of(alice), photo(host, first_comment="Link in bio"), key())

    [comment] = post.thread
    [stored] = fake.comments[post.external_id]
    assert (comment.external_id, stored["text"]) == (stored["id"], "Link in bio")


def test_a_comment_that_failed_is_all_the_next_attempt_sends(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network, draft, delivery = make_network(fake), photo(host, first_comment="Link in bio"), key()
    fake.fail_next_comment = True

    with pytest.raises(OutcomeUnknown) as failed:
        network.publish(account_of(alice), draft, delivery)
    [post] = failed.value.published
    finished = network.publish(account_of(alice), draft, delivery, published=(post,))

    assert finished.external_id == post.external_id
    assert len(fake.media_of(alice)) == 1
    assert len(fake.comments[post.external_id]) == 1


def test_a_comment_whose_answer_was_lost_is_found_not_sent_again(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network, draft, delivery = make_network(fake), photo(host, first_comment="Link in bio"), key()
    fake.comment_after = "502"
    attempted = datetime.now(UTC)

    with pytest.raises(OutcomeUnknown) as lost:
        network.publish(account_of(alice), draft, delivery)
    found = network.find_published(
        account_of(alice), delivery, draft=draft, attempted_at=attempted, published=lost.value.published
    )

    assert found is not None
    assert [part.external_id for part in found.parts] == [
        lost.value.published[0].external_id,
        fake.comments[found.external_id][0]["id"],
    ]


# -- Finding what an uncertain attempt made --------------------------------------------------------


def test_another_process_finds_the_post_among_the_latest_media_by_its_caption(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    draft, delivery, attempted = photo(host), key(), datetime.now(UTC)
    fake.captions_without_at = True
    post = make_network(fake).publish(account_of(alice), draft, delivery)

    found = make_network(fake).find_published(
        account_of(alice), delivery, draft=draft, attempted_at=attempted
    )

    assert found is not None
    assert found.external_id == post.external_id


def test_no_post_is_too_early_to_call_then_none(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    draft, now = photo(host), datetime.now(UTC)
    network = make_network(fake)

    with pytest.raises(Transient, match=r"not there yet.*ask again later"):
        network.find_published(account_of(alice), key(), draft=draft, attempted_at=now, last_attempted_at=now)
    old = now - timedelta(minutes=3)
    assert (
        network.find_published(account_of(alice), key(), draft=draft, attempted_at=old, last_attempted_at=old)
        is None
    )


def test_a_remembered_container_that_was_not_published_says_none_at_once(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network, draft, delivery = make_network(fake), photo(host), key()
    fake.refuse_next_publish = (500, {"error": {"message": "An unexpected error has occurred.", "code": 2}})
    now = datetime.now(UTC)

    with pytest.raises(Transient):
        network.publish(account_of(alice), draft, delivery)

    assert (
        network.find_published(
            account_of(alice), delivery, draft=draft, attempted_at=now, last_attempted_at=now
        )
        is None
    )


def test_two_posts_with_the_caption_are_for_a_person_to_tell_apart(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    network, draft, attempted = make_network(fake), photo(host), datetime.now(UTC)
    network.publish(account_of(alice), draft, key())
    network.publish(account_of(alice), draft, key())

    with pytest.raises(CannotTell, match="2 posts"):
        make_network(fake).find_published(account_of(alice), key(), draft=draft, attempted_at=attempted)


def test_a_media_address_instagram_cannot_fetch_is_refused(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    draft = photo(host)
    host.files.clear()  # the address answers 404, as an expired one of Crier's does

    with pytest.raises(Rejected, match="2207052"):
        make_network(fake).publish(account_of(alice), draft, key())


def test_the_daily_limit_met_at_publish_itself_waits(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    body = {"error": {"message": "Application request limit reached", "code": 9, "error_subcode": 2207042}}
    fake.refuse_next_publish = (400, body)

    with pytest.raises(RateLimited, match="2207042"):
        make_network(fake).publish(account_of(alice), photo(host), key())
    assert fake.media == {}


def test_a_plain_text_server_error_before_publishing_is_retried_with_its_words(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.refuse_next_publish = (503, "upstream connect error or disconnect/reset before headers")

    with pytest.raises(Transient, match="upstream connect error"):
        make_network(fake).publish(account_of(alice), photo(host), key())
    assert fake.media == {}


def test_a_rate_limit_without_its_usage_header_waits_crier_s_default(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.rate_limit_next, fake.rate_limit_header = 1, False

    with pytest.raises(RateLimited) as limited:
        make_network(fake).publish(account_of(alice), photo(host), key())

    assert limited.value.reset_at is None


def test_parts_given_are_kept(fake: FakeInstagram, alice: IgAccount, host: MediaHost) -> None:
    """A post recorded by an earlier attempt is not made again when there is no comment to add."""
    network = make_network(fake)
    recorded = PublishedPart("17890000000000099", "https://www.instagram.com/p/x/")

    post = network.publish(account_of(alice), photo(host), key(), published=(recorded,))

    assert post.external_id == recorded.external_id
    assert fake.containers == {}


def test_a_lost_answer_that_cannot_be_looked_into_stays_unknown_whatever_stops_the_look(
    fake: FakeInstagram, alice: IgAccount, host: MediaHost
) -> None:
    fake.after_publish, fake.expire_token_after_publish = "502", True

    with pytest.raises(OutcomeUnknown, match="could not look"):
        make_network(fake).publish(account_of(alice), photo(host), key())
    assert len(fake.media_of(alice)) == 1
