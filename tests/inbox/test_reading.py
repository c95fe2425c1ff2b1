"""Reading inboxes: every reply and mention stored once, linked to the post it answers, however it pages."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.inbox.models import InboxItem, InboxSource, SourceKind
from shared.inbox.reading import CLAIM_LEASE, PAGES_PER_READ, read_due_sources
from shared.inbox.sources import claim_due_sources, store_page
from shared.metrics.models import MetricSample
from shared.networks.inbox import InboxPage
from shared.networks.ports import Engagement, InboxKind
from shared.networks.sandbox import adapter as sandbox_adapter
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.notifications.endpoints import create_endpoint
from shared.notifications.models import WebhookMessage
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.inbox.conftest import Audience

# The sandbox's pages, made small so that a few dozen replies take many pages.
INBOX_PAGE = 5


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_adapter, "INBOX_PAGE", INBOX_PAGE)


def items_of(services: Services) -> list[InboxItem]:
    with services.sessions() as session:
        return list(session.scalars(select(InboxItem).order_by(InboxItem.created_at, InboxItem.external_id)))


def source_of(services: Services, channel: Channel) -> InboxSource:
    with services.sessions() as session:
        return session.scalars(
            select(InboxSource).where(
                InboxSource.channel_id == channel.id, InboxSource.kind == SourceKind.INBOX
            )
        ).one()


def make_due(services: Services, channel: Channel) -> None:
    with services.sessions.begin() as session:
        session.execute(
            update(InboxSource).where(InboxSource.channel_id == channel.id).values(next_read_at=utcnow())
        )


def read_until_drained(services: Services, channel: Channel, *, rounds: int = 200) -> None:
    for _ in range(rounds):
        make_due(services, channel)
        read_due_sources(services)
        if source_of(services, channel).next_read_at > utcnow():
            return
    raise AssertionError("the inbox still had more to read")


def test_a_reply_to_a_published_post_is_stored_once_with_the_post_and_delivery_it_answers(
    services: Services, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    reply_id = audience.reply(published.external_id, "When does it close?")
    mention_id = audience.mention("Book lovers, look at")

    assert read_due_sources(services) == 2
    make_due(services, channel)
    assert read_due_sources(services) == 0  # nothing is stored twice

    reply, mention = sorted(items_of(services), key=lambda item: item.kind != InboxKind.REPLY)
    assert (reply.external_id, reply.kind, reply.author_handle) == (reply_id, InboxKind.REPLY, "ada")
    assert reply.plain_text == "When does it close?"
    assert (reply.delivery_id, reply.post_id) == (published.id, published.post_id)
    assert reply.in_reply_to == published.external_id
    assert reply.unread
    assert reply.state == "open"
    assert (mention.external_id, mention.kind, mention.post_id) == (mention_id, InboxKind.MENTION, None)


def test_an_inbox_is_opened_for_each_channel_of_a_network_that_has_one_and_read_first_at_once(
    services: Services, channel: Channel
):
    assert read_due_sources(services) == 0
    source = source_of(services, channel)
    assert source.last_read_at is not None
    assert source.last_error is None
    # Nothing was there to read, and the next read starts after this one, not as a first read again.
    assert source.position is not None


def test_the_first_read_takes_the_latest_page_and_later_reads_page_through_everything_after_it(
    services: Services, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    before = [audience.reply(published.external_id, f"early {n}") for n in range(INBOX_PAGE + 20)]
    read_due_sources(services)
    assert {item.external_id for item in items_of(services)} == set(before[-INBOX_PAGE:])

    after = [audience.reply(published.external_id, f"later {n}") for n in range(INBOX_PAGE * 3 + 7)]
    read_until_drained(services, channel)

    stored = [item.external_id for item in items_of(services)]
    assert len(stored) == len(set(stored))
    assert set(stored) == set(before[-INBOX_PAGE:]) | set(after)


def test_replies_written_while_the_inbox_is_read_are_all_stored_once(
    services: Services, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    read_due_sources(services)
    written: list[str] = []
    done = threading.Event()

    def write() -> None:
        assert published.external_id is not None
        for n in range(200):
            written.append(audience.reply(published.external_id, f"reply {n}"))
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        make_due(services, channel)
        read_due_sources(services)
    writer.join()
    read_until_drained(services, channel)

    stored = [item.external_id for item in items_of(services)]
    assert len(stored) == len(set(stored)) == len(written)
    assert set(stored) == set(written)


def test_a_page_read_by_a_reader_that_lost_its_claim_is_not_stored_and_is_read_again_once(
    services: Services, sandbox: SandboxNetwork, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    read_due_sources(services)
    replies = [audience.reply(published.external_id, f"reply {n}") for n in range(3)]
    with services.sessions.begin() as session:
        [stale] = claim_due_sources(session, now=utcnow() + timedelta(hours=1), limit=10, lease=CLAIM_LEASE)
    page = sandbox.read_inbox(stale.account, stale.position)
    # The reader stalls past its lease; another claims the source and reads it whole.
    with services.sessions.begin() as session:
        [fresh] = claim_due_sources(session, now=utcnow() + timedelta(hours=2), limit=10, lease=CLAIM_LEASE)
    with services.sessions.begin() as session:
        assert store_page(session, stale, page, now=utcnow()) == []
    with services.sessions.begin() as session:
        assert len(store_page(session, fresh, page, now=utcnow())) == 3
        # The same page again (a reader that died after storing, before moving on): nothing twice.
        assert store_page(session, fresh, page, now=utcnow()) == []
    assert sorted(item.external_id for item in items_of(services)) == sorted(replies)


def test_the_interval_shortens_while_items_come_and_lengthens_while_none_do(
    services: Services, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    shortest, longest = services.settings.inbox_read_min_seconds, services.settings.inbox_read_max_seconds
    read_due_sources(services)
    intervals = []
    for _ in range(8):
        make_due(services, channel)
        read_due_sources(services)
        intervals.append(source_of(services, channel).interval_seconds)
    assert intervals == sorted(intervals)
    assert intervals[-1] == longest
    for _ in range(8):
        audience.reply(published.external_id)
        make_due(services, channel)
        read_due_sources(services)
        intervals.append(source_of(services, channel).interval_seconds)
    assert intervals[-1] == shortest
    source = source_of(services, channel)
    assert source.next_read_at - source.last_read_at == timedelta(seconds=shortest)  # type: ignore[operator]


def test_a_network_that_fails_keeps_its_error_and_is_asked_again_later_losing_nothing(
    services: Services, workspace: Workspace, audience: Audience, published: Delivery
):
    assert published.external_id is not None
    failing = make_failing_channel(services, workspace)
    read_due_sources(services)
    source = source_of(services, failing)
    assert source.last_error is not None
    assert "503" in source.last_error
    assert source.next_read_at - utcnow() > timedelta(minutes=4)


def make_failing_channel(services: Services, workspace: Workspace) -> Channel:
    from tests.factories import make_channel

    return make_channel(services, workspace, "Flaky Branch", failure_rate=1)


def test_a_received_item_is_announced_to_the_workspaces_webhooks(
    services: Services, workspace: Workspace, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    with services.sessions.begin() as session:
        create_endpoint(
            session,
            Actor.system(workspace.id),
            services.credentials,
            url="https://hooks.example.org/crier",
            events=["inbox.item_received"],
            policy=services.outbound.policy,
        )
    reply_id = audience.reply(published.external_id, "Is it free?")
    read_due_sources(services)
    with services.sessions() as session:
        [message] = session.scalars(select(WebhookMessage)).all()
    assert message.event_type == "inbox.item_received"
    assert message.payload["external_id"] == reply_id
    assert message.payload["post_id"] == str(published.post_id)
    assert message.payload["text"] == "Is it free?"


def test_reading_stops_after_its_pages_and_the_source_is_due_again_at_once(
    services: Services, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    read_due_sources(services)
    for n in range(INBOX_PAGE * (PAGES_PER_READ + 1)):
        audience.reply(published.external_id, f"{n}")
    make_due(services, channel)
    assert read_due_sources(services) == INBOX_PAGE * PAGES_PER_READ
    assert source_of(services, channel).next_read_at <= utcnow()
    assert read_due_sources(services) == INBOX_PAGE


def test_an_unknown_source_id_reads_nothing(services: Services):
    assert read_due_sources(services, source_id=uuid.uuid4()) == 0


def test_counts_a_read_carried_for_the_accounts_own_posts_are_kept_as_a_metrics_reading(
    services: Services, sandbox: SandboxNetwork, channel: Channel, published: Delivery
):
    assert published.external_id is not None
    read_due_sources(services)
    with services.sessions.begin() as session:
        [source] = claim_due_sources(session, now=utcnow() + timedelta(hours=1), limit=10, lease=CLAIM_LEASE)
    page = InboxPage((), source.position, engagement={published.external_id: Engagement(likes=7)})
    with services.sessions.begin() as session:
        store_page(session, source, page, now=utcnow())

    with services.sessions() as session:
        [sample] = session.scalars(select(MetricSample).where(MetricSample.delivery_id == published.id)).all()
    assert sample.likes == 7
