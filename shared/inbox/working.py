"""Working the inbox: finding items, counting what is unread, and changing an item's state, assignee,
labels and notes. Every change is in the audit log; giving an item to a member is announced.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from shared.audit.services import record
from shared.db import utcnow
from shared.errors import InvalidInput, NotFound, PreconditionFailed, Problem
from shared.inbox.models import InboxItem, InboxItemLabel, InboxNote, InboxSource, ItemState, SourceKind
from shared.inbox.sources import event_payload
from shared.networks.ports import InboxKind
from shared.notifications.models import EventType
from shared.notifications.outbox import emit
from shared.workspaces.access import Actor, Permission, require
from shared.workspaces.models import Member

LABEL_WIDTH = 100
NOTE_LIMIT = 10_000
# Assigned to nobody: the filter's value for "unassigned".
NOBODY = "none"


@dataclass(frozen=True)
class ItemFilter:
    """Which items a list holds: those matching every field given (None matches all)."""

    channel_id: uuid.UUID | None = None
    network: str | None = None
    kind: InboxKind | None = None
    state: ItemState | None = None
    # A member's id, or NOBODY for the unassigned.
    assignee: uuid.UUID | str | None = None
    label: str | None = None
    post_id: uuid.UUID | None = None
    # A saved search's items; without it, the channels' inboxes only.
    stream_id: uuid.UUID | None = None
    unread: bool | None = None
    # Words the item's plain text or its author's handle or name contain, whatever their case.
    text: str | None = None


EVERY_ITEM = ItemFilter()


def list_items(
    session: Session,
    workspace_id: uuid.UUID,
    which: ItemFilter = EVERY_ITEM,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> Sequence[InboxItem]:
    """Newest first by when Crier stored them. `after` is the (received_at, id) of the previous page's last
    item: a keyset, so items arriving while someone pages come at the top and shift nothing."""
    query = select(InboxItem).where(InboxItem.workspace_id == workspace_id)
    query = query.where(_source_condition(which.stream_id))
    if which.channel_id is not None:
        query = query.where(InboxItem.channel_id == which.channel_id)
    if which.network is not None:
        query = query.where(InboxItem.network == which.network)
    if which.kind is not None:
        query = query.where(InboxItem.kind == which.kind)
    if which.state is not None:
        query = query.where(InboxItem.state == which.state)
    if which.assignee == NOBODY:
        query = query.where(InboxItem.assignee_id.is_(None))
    elif which.assignee is not None:
        query = query.where(InboxItem.assignee_id == which.assignee)
    if which.label is not None:
        query = query.where(
            exists().where(InboxItemLabel.item_id == InboxItem.id, InboxItemLabel.name == which.label)
        )
    if which.post_id is not None:
        query = query.where(InboxItem.post_id == which.post_id)
    if which.unread is not None:
        query = query.where(InboxItem.unread.is_(which.unread))
    if which.text:
        pattern = f"%{_escape_like(which.text.lower())}%"
        query = query.where(
            or_(
                func.lower(InboxItem.plain_text).like(pattern, escape="\\"),
                func.lower(InboxItem.author_handle).like(pattern, escape="\\"),
                func.lower(InboxItem.author_name).like(pattern, escape="\\"),
            )
        )
    if after is not None:
        received_at, item_id = after
        query = query.where(
            or_(
                InboxItem.received_at < received_at,
                and_(InboxItem.received_at == received_at, InboxItem.id < item_id),
            )
        )
    return session.scalars(
        query.order_by(InboxItem.received_at.desc(), InboxItem.id.desc()).limit(limit)
    ).all()


def unread_counts(session: Session, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Open, unread items of each channel's inbox (saved searches' not counted): the badges."""
    rows = session.execute(
        select(InboxItem.channel_id, func.count())
        .where(
            InboxItem.workspace_id == workspace_id,
            InboxItem.unread.is_(True),
            InboxItem.state == ItemState.OPEN,
            _source_condition(None),
        )
        .group_by(InboxItem.channel_id)
    ).all()
    return {channel_id: count for channel_id, count in rows}


def get_item(session: Session, workspace_id: uuid.UUID, item_id: uuid.UUID) -> InboxItem:
    item = session.get(InboxItem, item_id)
    if item is None or item.workspace_id != workspace_id:
        raise NotFound("inbox item", item_id)
    return item


@dataclass(frozen=True)
class ItemChange:
    """What to change of an item; None leaves a field as it is. `assignee_id` is set to None by NOBODY."""

    state: ItemState | None = None
    assignee: uuid.UUID | str | None = None
    labels: Sequence[str] | None = None
    unread: bool | None = None


def change_item(
    session: Session,
    actor: Actor,
    item: InboxItem,
    change: ItemChange,
    *,
    expected_version: int | None = None,
) -> InboxItem:
    """Apply the change, checked whole first; with `expected_version`, only to the copy the caller saw."""
    require(actor, Permission.DRAFT)
    if expected_version is not None and expected_version != item.version:
        raise PreconditionFailed(
            "Someone changed the item while you were looking at it: fetch it again and reapply your change."
        )
    problems: list[Problem] = []
    assignee_id = _assignee_id(session, actor, change.assignee, problems)
    labels = _labels(change.labels, problems) if change.labels is not None else None
    if problems:
        raise InvalidInput(problems)
    detail: dict[str, object] = {}
    if change.state is not None and change.state is not item.state:
        item.state = change.state
        detail["state"] = change.state.value
    newly_assigned = False
    if change.assignee is not None and assignee_id != item.assignee_id:
        item.assignee_id = assignee_id
        detail["assignee_id"] = str(assignee_id) if assignee_id else None
        newly_assigned = assignee_id is not None
    if labels is not None and labels != item.label_names:
        kept = {label.name: label for label in item.labels}
        item.labels = [kept.get(name) or InboxItemLabel(name=name) for name in labels]
        detail["labels"] = labels
    if change.unread is not None:
        item.unread = change.unread
    if labels is not None and "labels" in detail:
        # Labels are rows of their own: without a change to the item's row its version would stay, and a
        # copy read before the change would still match If-Match.
        item.updated_at = utcnow()
    if detail:
        record(session, actor, "inbox_item.changed", "inbox_item", item.id, **detail)
    session.flush()
    if newly_assigned:
        emit(session, item.workspace_id, EventType.INBOX_ITEM_ASSIGNED, event_payload(item))
    return item


def mark_read(session: Session, actor: Actor, item: InboxItem) -> None:
    """A member opened the item: it is read for the team. Not a change to the item: its version (and so
    an ETag another member holds) stays, and the audit log is not told."""
    if item.unread and actor.can(Permission.DRAFT):
        session.execute(update(InboxItem).where(InboxItem.id == item.id).values(unread=False))
        session.expire(item, ["unread"])


def add_note(session: Session, actor: Actor, item: InboxItem, text: str) -> InboxNote:
    """A note for the team on the item; never sent to the network."""
    require(actor, Permission.DRAFT)
    if not text.strip():
        raise InvalidInput([Problem("/text", "A note needs some text.")])
    if len(text) > NOTE_LIMIT:
        raise InvalidInput([Problem("/text", f"A note is at most {NOTE_LIMIT:,} characters.")])
    note = InboxNote(item_id=item.id, author_id=actor.member_id, text=text)
    item.notes.append(note)
    session.flush()
    record(session, actor, "inbox_item.noted", "inbox_item", item.id, note_id=str(note.id))
    return note


def _source_condition(stream_id: uuid.UUID | None) -> ColumnElement[bool]:
    """The items of one saved search, or of the channels' inboxes."""
    if stream_id is not None:
        return InboxItem.source_id == stream_id
    return exists().where(InboxSource.id == InboxItem.source_id, InboxSource.kind == SourceKind.INBOX)


def _assignee_id(
    session: Session, actor: Actor, assignee: uuid.UUID | str | None, problems: list[Problem]
) -> uuid.UUID | None:
    if assignee is None or assignee == NOBODY:
        return None
    if not isinstance(assignee, uuid.UUID):
        problems.append(Problem("/assignee_id", f"{assignee!r} is not a member's id."))
        return None
    member = session.get(Member, assignee)
    if member is None or member.workspace_id != actor.workspace_id:
        problems.append(Problem("/assignee_id", f"There is no member with id {assignee} in this workspace."))
        return None
    return member.id


def _labels(names: Sequence[str], problems: list[Problem]) -> list[str]:
    labels = []
    for index, name in enumerate(names):
        cleaned = name.strip()
        if not cleaned or len(cleaned) > LABEL_WIDTH:
            problems.append(Problem(f"/labels/{index}", f"A label is 1 to {LABEL_WIDTH} characters."))
        labels.append(cleaned)
    return list(dict.fromkeys(labels))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
