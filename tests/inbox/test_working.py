"""Working the inbox: finding items, unread counts, states, assignment, labels and notes; saved searches;
and how fast the workspace answers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.errors import InvalidInput, PreconditionFailed
from shared.inbox.analytics import responsiveness
from shared.inbox.answering import reply
from shared.inbox.models import InboxItem, ItemState
from shared.inbox.reading import read_due_sources
from shared.inbox.streams import create_stream, delete_stream, get_stream, list_streams
from shared.inbox.threads import network_thread, stored_thread
from shared.inbox.working import (
    EVERY_ITEM,
    NOBODY,
    ItemChange,
    ItemFilter,
    add_note,
    change_item,
    list_items,
    mark_read,
    unread_counts,
)
from shared.networks.ports import InboxKind
from shared.notifications.endpoints import create_endpoint
from shared.notifications.models import WebhookMessage
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.models import Member, Workspace
from shared.workspaces.services import get_or_add_member
from tests.driving import publish_what_is_due
from tests.inbox.conftest import Audience


def read_in(services: Services) -> list[InboxItem]:
    read_due_sources(services)
    with services.sessions() as session:
        return list(session.scalars(select(InboxItem).order_by(InboxItem.received_at, InboxItem.id)))


def member(services: Services, workspace: Workspace, role: Role = Role.EDITOR) -> Member:
    with services.sessions.begin() as session:
        return get_or_add_member(session, workspace, f"{role.value}@example.org", role=role)


def change(services: Services, item: InboxItem, change: ItemChange, **kwargs: object) -> InboxItem:
    with services.sessions.begin() as session:
        found = session.get_one(InboxItem, item.id)
        return change_item(session, Actor.system(found.workspace_id), found, change, **kwargs)  # type: ignore[arg-type]


def listed(
    services: Services, workspace: Workspace, which: ItemFilter = EVERY_ITEM, **kwargs: object
) -> list[str]:
    with services.sessions() as session:
        return [item.external_id for item in list_items(session, workspace.id, which, **kwargs)]  # type: ignore[arg-type]


def test_items_are_listed_newest_first_by_any_filter_and_paged_without_repeats(
    services: Services, workspace: Workspace, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    replies = [audience.reply(published.external_id, f"Question {n} about the FAIR") for n in range(4)]
    mention = audience.mention("Ask")
    items = read_in(services)
    assert len(items) == 5

    assert listed(services, workspace, ItemFilter(kind=InboxKind.MENTION)) == [mention]
    assert set(listed(services, workspace, ItemFilter(post_id=published.post_id))) == set(replies)
    assert set(listed(services, workspace, ItemFilter(text="fair"))) == set(replies)
    assert listed(services, workspace, ItemFilter(text="Question 2")) == [replies[2]]
    assert listed(services, workspace, ItemFilter(text="100%")) == []  # a wildcard is a character
    assert listed(services, workspace, ItemFilter(network="mastodon")) == []

    first = listed(services, workspace, limit=2)
    with services.sessions() as session:
        last = session.scalars(select(InboxItem).where(InboxItem.external_id == first[-1])).one()
    # An item arriving between pages comes at the top and shifts nothing.
    audience.reply(published.external_id, "Late question")
    read_in(services)
    rest = listed(services, workspace, after=(last.received_at, last.id), limit=10)
    assert set(first) | set(rest) == {*replies, mention}
    assert not set(first) & set(rest)


def test_unread_counts_are_per_channel_and_leave_out_done_and_read_items(
    services: Services, workspace: Workspace, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    for n in range(3):
        audience.reply(published.external_id, f"{n}")
    first, second, _ = read_in(services)
    with services.sessions() as session:
        assert unread_counts(session, workspace.id) == {channel.id: 3}
    change(services, first, ItemChange(state=ItemState.DONE))
    change(services, second, ItemChange(unread=False))
    with services.sessions() as session:
        assert unread_counts(session, workspace.id) == {channel.id: 1}


def test_assigning_an_item_is_audited_and_announced_and_unassigning_is_not_announced(
    services: Services, workspace: Workspace, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    with services.sessions.begin() as session:
        create_endpoint(
            session,
            Actor.system(workspace.id),
            services.credentials,
            url="https://hooks.example.org/crier",
            events=["inbox.item_assigned"],
            policy=services.outbound.policy,
        )
    audience.reply(published.external_id)
    [item] = read_in(services)
    editor = member(services, workspace)

    changed = change(services, item, ItemChange(assignee=editor.id, labels=["Events", " events ", "Events"]))
    assert changed.assignee_id == editor.id
    assert changed.label_names == ["Events", "events"]
    change(services, item, ItemChange(assignee=NOBODY))

    with services.sessions() as session:
        [message] = session.scalars(select(WebhookMessage)).all()
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == item.id)).all()
    assert message.event_type == "inbox.item_assigned"
    assert message.payload["assignee_id"] == str(editor.id)
    assert actions == ["inbox_item.changed", "inbox_item.changed"]
    assert listed(services, workspace, ItemFilter(assignee=NOBODY)) == [item.external_id]


def test_a_change_to_a_stale_copy_or_to_someone_not_in_the_workspace_is_refused_whole(
    services: Services, workspace: Workspace, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    audience.reply(published.external_id)
    [item] = read_in(services)
    change(services, item, ItemChange(state=ItemState.SPAM))

    with pytest.raises(PreconditionFailed):
        change(services, item, ItemChange(state=ItemState.DONE), expected_version=item.version)
    with pytest.raises(InvalidInput) as refused:
        change(services, item, ItemChange(state=ItemState.DONE, assignee=uuid.uuid4(), labels=[""]))
    assert [problem.pointer for problem in refused.value.problems] == ["/assignee_id", "/labels/0"]
    with services.sessions() as session:
        assert session.get_one(InboxItem, item.id).state is ItemState.SPAM


def test_notes_are_kept_in_order_and_an_empty_one_is_refused(
    services: Services, workspace: Workspace, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    audience.reply(published.external_id)
    [item] = read_in(services)
    actor = Actor.system(workspace.id)
    with services.sessions.begin() as session:
        found = session.get_one(InboxItem, item.id)
        add_note(session, actor, found, "Ask the events team")
        add_note(session, actor, found, "They said Sunday too")
        with pytest.raises(InvalidInput):
            add_note(session, actor, found, "   ")
    with services.sessions() as session:
        assert [note.text for note in session.get_one(InboxItem, item.id).notes] == [
            "Ask the events team",
            "They said Sunday too",
        ]


def test_an_items_thread_holds_what_was_stored_of_its_conversation_oldest_first(
    services: Services, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    first = audience.reply(published.external_id, "Is it free?")
    second = audience.reply(published.external_id, "And is there parking?", author="linus")
    audience.mention("Unrelated")
    items = {item.external_id: item for item in read_in(services)}
    with services.sessions() as session:
        thread = stored_thread(session, items[second])
    assert [item.external_id for item in thread] == [first, second]


def test_a_saved_search_reads_matching_posts_as_its_own_list_not_the_inbox(
    services: Services, workspace: Workspace, channel: Channel, audience: Audience
):
    actor = Actor.system(workspace.id)
    with services.sessions.begin() as session:
        stream = create_stream(session, services.networks, actor, channel.id, name="Fair", query="#bookfair")
    found = audience.store.add("margaret", "Off to the #BookFair!", f"elsewhere:{uuid.uuid4()}")
    audience.store.add("ken", "Nothing to see", f"elsewhere:{uuid.uuid4()}")
    read_due_sources(services)
    assert listed(services, workspace, ItemFilter(stream_id=stream.id)) == [found["id"]]
    assert listed(services, workspace) == []

    with services.sessions.begin() as session:
        assert [each.id for each in list_streams(session, workspace.id)] == [stream.id]
        delete_stream(session, actor, get_stream(session, workspace.id, stream.id))
    with services.sessions() as session:
        assert list_streams(session, workspace.id) == []
        assert session.scalars(select(InboxItem)).all() == []


def test_a_saved_search_with_a_query_the_network_refuses_is_not_saved(
    services: Services, workspace: Workspace, channel: Channel
):
    with services.sessions.begin() as session, pytest.raises(InvalidInput) as refused:
        create_stream(session, services.networks, Actor.system(workspace.id), channel.id, name="", query=" ")
    assert {problem.pointer for problem in refused.value.problems} == {"/name", "/query"}


def test_response_rate_and_time_to_first_reply_count_published_replies_per_channel_and_member(
    services: Services, workspace: Workspace, channel: Channel, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    for n in range(4):
        audience.reply(published.external_id, f"Question {n}")
    items = read_in(services)
    editor = member(services, workspace)
    actor = Actor.of(workspace.id, editor.id, Role.EDITOR, Scope.ADMIN, editor.name)
    for item in items[:2]:
        reply(services, actor, item, "Thanks!", now=utcnow())
    publish_what_is_due(services)
    # One item was written an hour before its reply went out.
    with services.sessions.begin() as session:
        session.execute(
            update(InboxItem)
            .where(InboxItem.id == items[0].id)
            .values(created_at=items[0].created_at - timedelta(hours=1))
        )

    start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
    with services.sessions() as session:
        by_channel, by_member = responsiveness(session, workspace.id, start, end)
    [row] = by_channel
    assert (row.key, row.items, row.answered, row.response_rate) == (channel.id, 4, 2, 0.5)
    assert row.mean_seconds is not None
    assert 1800 < row.mean_seconds < 1900  # (an hour and a few seconds + a few seconds) / 2
    [person] = by_member
    assert (person.key, person.items, person.answered) == (editor.id, 2, 2)


def test_opening_an_item_marks_it_read_for_the_team_without_changing_its_version(
    services: Services, workspace: Workspace, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    audience.reply(published.external_id)
    [item] = read_in(services)
    viewer = member(services, workspace, Role.VIEWER)
    with services.sessions.begin() as session:
        found = session.get_one(InboxItem, item.id)
        mark_read(session, Actor.of(workspace.id, viewer.id, Role.VIEWER, Scope.ADMIN, viewer.name), found)
    with services.sessions() as session:
        assert session.get_one(InboxItem, item.id).unread  # a viewer only looks

    with services.sessions.begin() as session:
        mark_read(session, Actor.system(workspace.id), session.get_one(InboxItem, item.id))
    with services.sessions() as session:
        opened = session.get_one(InboxItem, item.id)
    assert not opened.unread
    assert opened.version == item.version  # an ETag another member holds still matches


def test_the_live_thread_of_an_item_whose_network_is_no_longer_installed_is_empty(
    services: Services, published: Delivery, audience: Audience
):
    assert published.external_id is not None
    audience.reply(published.external_id)
    [item] = read_in(services)
    assert [entry.external_id for entry in network_thread(services, item)][-1] == item.external_id
    with services.sessions.begin() as session:
        session.execute(update(InboxItem).where(InboxItem.id == item.id).values(network="myspace"))
        gone = session.get_one(InboxItem, item.id)
    assert network_thread(services, gone) == []
