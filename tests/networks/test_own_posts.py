"""The toolkit's way of finding an uncertain post among the account's own: what this process sent, kept a
day with the first attempt's time; one match is the post, several are for a person, none is certain only
once the attempt is old enough."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from shared.networks.ports import CannotTell, Draft, PublishedPart, Transient
from shared.networks.toolkit.own_posts import AmongOwnPosts, SentByThisProcess

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OWN = AmongOwnPosts("example.social", lambda: NOW, timedelta(minutes=2), items="statuses")
EARLIER = PublishedPart("1", "https://example.social/@a/1")


def test_an_attempt_is_settled_once_it_is_as_old_as_the_settle_time() -> None:
    assert not OWN.settled(NOW - timedelta(minutes=1, seconds=59))
    assert OWN.settled(NOW - timedelta(minutes=2))


def test_the_one_match_is_the_post() -> None:
    assert OWN.the_one(["a"], "the post", settled=False) == "a"


def test_none_is_certain_once_the_attempt_is_settled() -> None:
    assert OWN.the_one([], "the post", settled=True) is None


def test_none_while_the_attempt_is_recent_is_asked_again_later_with_the_parts_found() -> None:
    with pytest.raises(Transient, match="under 120 s ago") as raised:
        OWN.the_one([], "thread reply 1 of 1", settled=False, published=[EARLIER])
    assert raised.value.published == (EARLIER,)
    assert str(raised.value).startswith("example.social: thread reply 1 of 1 is not there yet")


def test_several_matches_are_for_a_person_with_their_addresses() -> None:
    with pytest.raises(CannotTell) as raised:
        OWN.the_one(["a", "b"], "the post", settled=True, published=[EARLIER], address=str.upper)
    assert str(raised.value) == (
        "example.social: 2 statuses since the attempt match the post (A, B); a person must say which"
    )
    assert raised.value.published == (EARLIER,)


@dataclass(frozen=True)
class Sent:
    text: str
    sent_at: datetime

    @classmethod
    def of(cls, draft: Draft, sent_at: datetime) -> Sent:
        return cls(draft.text, sent_at)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_a_retry_is_remembered_with_the_first_attempts_time() -> None:
    clock = Clock()
    sent: SentByThisProcess[Sent] = SentByThisProcess("Example", clock)
    assert sent.remember("key", lambda at: Sent("first", at)) == Sent("first", NOW)
    clock.now = NOW + timedelta(minutes=5)
    assert sent.remember("key", lambda at: Sent("again", at)) == Sent("again", NOW)
    assert sent.expected("key", None, None, Sent.of) == Sent("again", NOW)


def test_the_callers_draft_and_time_come_before_the_memory() -> None:
    sent: SentByThisProcess[Sent] = SentByThisProcess("Example", Clock())
    sent.remember("key", lambda at: Sent("remembered", at))
    later = NOW + timedelta(hours=1)
    assert sent.expected("key", Draft(text="given"), later, Sent.of) == Sent("given", later)


def test_what_this_process_did_not_send_cannot_be_told() -> None:
    sent: SentByThisProcess[Sent] = SentByThisProcess("Example", Clock())
    with pytest.raises(CannotTell, match=r"^Example keeps no key.*nothing to recognise it by"):
        sent.expected("key", Draft(text="no time"), None, Sent.of)


def test_what_was_sent_is_forgotten_after_a_day() -> None:
    clock = Clock()
    sent: SentByThisProcess[Sent] = SentByThisProcess("Example", clock)
    sent.remember("old", lambda at: Sent("old", at))
    clock.now = NOW + timedelta(days=1, seconds=1)
    sent.remember("new", lambda at: Sent("new", at))
    with pytest.raises(CannotTell):
        sent.expected("old", None, None, Sent.of)
