"""Posts out as a CSV file that an import reads back, and the calendar out as iCalendar (RFC 5545)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.bulk.checking import (
    CHANNELS,
    DRAFT,
    LABELS,
    LIST_SEPARATORS,
    NOW,
    QUEUE,
    RECURRENCE,
    TEXT,
    THREAD,
    TIME,
    TIMEZONE,
    VARIANT_PREFIX,
)
from shared.channels.models import Channel, ChannelState
from shared.deliveries.models import Delivery
from shared.networks.toolkit.answers import post_address_problem
from shared.posts.models import Post, PostStage, PostState, Timing
from shared.spreadsheets import to_spreadsheet
from shared.timezones import stored_zone
from shared.workflow.calendar import CalendarEntry, calendar
from shared.workflow.listing import EVERY_POST, PostFilter, list_posts
from shared.workflow.states import post_state

PAGE = 1_000
EXCERPT_LENGTH = 60
# A post not yet scheduled is shown as tentative; one whose deliveries were withdrawn, as cancelled.
ICAL_STATUS = {
    PostState.DRAFT.value: "TENTATIVE",
    PostState.PENDING_APPROVAL.value: "TENTATIVE",
    PostState.REJECTED.value: "TENTATIVE",
    PostState.CANCELLED.value: "CANCELLED",
}
BEFORE_SCHEDULING = frozenset(
    {PostState.DRAFT.value, PostState.PENDING_APPROVAL.value, PostState.REJECTED.value}
)


def export_posts_csv(
    session: Session,
    workspace_id: uuid.UUID,
    which: PostFilter = EVERY_POST,
) -> str:
    """The posts, oldest first, one row each, in the columns an import reads (and `state`, `id`).

    Every cell is spreadsheet-safe (shared.spreadsheets): one that would run as a formula gets a quote in
    front, which the import takes off again.

    A channel is named when its name is its own in the workspace, by id otherwise. A per-network text is
    written when every channel of that network in the post has the same one; variants that differ within
    one network, and variants' options, have no column.
    """
    posts: list[Post] = []
    after = None
    while True:
        page = list_posts(session, workspace_id, which, after=after, limit=PAGE)
        posts += page
        if len(page) < PAGE:
            break
        after = (page[-1].created_at, page[-1].id)
    posts.reverse()  # a re-import makes them in the order they were first made
    names = _channel_names(session, workspace_id)
    networks = sorted({target.channel.network for post in posts for target in post.targets})
    columns = [TEXT, CHANNELS, TIME, TIMEZONE, LABELS, THREAD, RECURRENCE, DRAFT]
    columns += [VARIANT_PREFIX + network for network in networks] + ["state", "id"]
    out = io.StringIO()
    # The byte-order mark tells Excel the file is UTF-8; the import skips it.
    out.write("\ufeff")
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    for post in posts:
        row = {
            TEXT: post.text,
            CHANNELS: "|".join(
                names.get(target.channel_id, str(target.channel_id)) for target in post.targets
            ),
            TIME: _time_cell(post),
            TIMEZONE: post.timezone,
            LABELS: "|".join(post.label_names),
            THREAD: "\n\n".join(post.thread),
            RECURRENCE: post.recurrence_rule or "",
            DRAFT: "true" if post.stage is PostStage.DRAFT else "false",
            **{VARIANT_PREFIX + network: _variant(post, network) for network in networks},
            "state": post_state(post).value,
            "id": str(post.id),
        }
        writer.writerow({column: to_spreadsheet(cell) for column, cell in row.items()})
    return out.getvalue()


def _channel_names(session: Session, workspace_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The channels an import can find by name: those in use whose name no other such channel has."""
    channels = session.scalars(
        select(Channel).where(
            Channel.workspace_id == workspace_id, Channel.state != ChannelState.DISCONNECTED
        )
    ).all()
    counts: dict[str, int] = {}
    for channel in channels:
        counts[channel.name.strip().casefold()] = counts.get(channel.name.strip().casefold(), 0) + 1
    return {
        channel.id: channel.name.strip()
        for channel in channels
        if counts[channel.name.strip().casefold()] == 1
        and not LIST_SEPARATORS.search(channel.name)
        and channel.name.strip()
    }


def _time_cell(post: Post) -> str:
    if post.timing is Timing.QUEUE:
        return QUEUE
    if post.scheduled_at is None:
        return "" if post.stage is PostStage.DRAFT else NOW
    return post.scheduled_at.astimezone(stored_zone(post.timezone)).isoformat()


def _variant(post: Post, network: str) -> str:
    texts = {target.text for target in post.targets if target.channel.network == network}
    only = next(iter(texts)) if len(texts) == 1 else None
    return only or ""


def export_calendar_ics(
    session: Session, workspace_id: uuid.UUID, start: datetime, end: datetime, *, timezone: str, now: datetime
) -> bytes:
    """One event per calendar entry in [start, end): a post on a channel at a time, in UTC."""
    found = calendar(session, workspace_id, start, end)
    channels = {
        channel.id: channel
        for channel in session.scalars(select(Channel).where(Channel.workspace_id == workspace_id))
    }
    urls: dict[uuid.UUID, str | None] = {
        delivery_id: url
        for delivery_id, url in session.execute(
            select(Delivery.id, Delivery.external_url)
            .join(Post, Post.id == Delivery.post_id)
            .where(
                Post.workspace_id == workspace_id,
                Delivery.scheduled_at >= start,
                Delivery.scheduled_at < end,
                Delivery.external_url.is_not(None),
            )
        )
    }
    document = icalendar.Calendar()
    document.add("prodid", "-//Crier//Crier posts//EN")
    document.add("version", "2.0")
    document.add("calscale", "GREGORIAN")
    document.add("x-wr-calname", "Crier")
    document.add("x-wr-timezone", timezone)
    for entry in found.entries:
        document.add_component(_event(entry, channels.get(entry.channel_id), urls, now))
    return bytes(document.to_ical())


def _event(
    entry: CalendarEntry, channel: Channel | None, urls: dict[uuid.UUID, str | None], now: datetime
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", _uid(entry))
    event.add("dtstamp", now)
    event.add("dtstart", entry.at)
    event.add("summary", f"{channel.name if channel else 'Channel'}: {_excerpt(entry.text)}")
    event.add("description", entry.text)
    event.add("status", ICAL_STATUS.get(entry.state, "CONFIRMED"))
    if entry.labels:
        event.add("categories", list(entry.labels))
    url = urls.get(entry.delivery_id) if entry.delivery_id else None
    # Only an address that reads as one: a stored value with a line break would start a property of its
    # own in the file, and a calendar would offer a `javascript:` one as a link.
    if url and post_address_problem(url) is None:
        event.add("url", url)
    return event


def _uid(entry: CalendarEntry) -> str:
    """The same event keeps its UID across exports, so a subscribed calendar updates it in place."""
    if entry.delivery_id is not None:
        return f"delivery-{entry.delivery_id}@crier"
    if entry.state in BEFORE_SCHEDULING:
        return f"post-{entry.post_id}-{entry.channel_id}@crier"
    # An occurrence of a series still to come: one post and channel have several, one per time.
    return f"post-{entry.post_id}-{entry.channel_id}-{entry.at:%Y%m%dT%H%M%SZ}@crier"


def _excerpt(text: str) -> str:
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    if len(first_line) <= EXCERPT_LENGTH and first_line == text.strip():
        return first_line
    return first_line[: EXCERPT_LENGTH - 1].rstrip() + "…"
