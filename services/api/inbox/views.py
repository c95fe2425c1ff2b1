"""The inbox: list and count items, read one with its thread, work it (state, assignee, labels, notes),
answer it (a reply as a post, a like or a hide as an action), and keep saved searches ("streams")."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.api.auth import requires
from services.api.context import get_actor, get_services
from services.api.etags import ETAG_HEADER, IF_MATCH_PARAMETER, etag_of, expected_version
from services.api.inbox.schemas import (
    ActionSchema,
    InboxItemDetailSchema,
    InboxItemSchema,
    InboxListSchema,
    InboxQuerySchema,
    InboxRefreshQueuedSchema,
    ItemChangeSchema,
    NoteSchema,
    NoteWriteSchema,
    RefreshSchema,
    ReplyWriteSchema,
    StreamListSchema,
    StreamSchema,
    StreamWriteSchema,
    ThreadQuerySchema,
    ThreadSchema,
    UnreadSchema,
)
from services.api.paging import page_of
from services.api.posts.schemas import PostSchema
from services.api.posts.views import CREATED_HEADERS, IDEMPOTENCY_KEY_PARAMETER
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import Session, utcnow
from shared.errors import Conflict, InvalidInput, Problem, Unavailable
from shared.idempotency.services import IdempotentRequest, fingerprint
from shared.inbox.answering import act_soon, ask_for_action, replies_of, reply
from shared.inbox.models import ActionKind, InboxAction, InboxItem, InboxNote, InboxSource
from shared.inbox.sources import channel_inbox
from shared.inbox.streams import create_stream, delete_stream, get_stream, list_streams
from shared.inbox.threads import network_thread, stored_thread
from shared.inbox.working import (
    NOBODY,
    ItemChange,
    ItemFilter,
    add_note,
    change_item,
    get_item,
    list_items,
    unread_counts,
)
from shared.networks.inbox import InboxEntry
from shared.networks.ports import NetworkError
from shared.posts.models import Post
from shared.task_names import READ_INBOX_SOURCE, READ_INBOXES
from shared.workspaces.access import Permission

log = logging.getLogger(__name__)

blp = Blueprint(
    "inbox",
    __name__,
    url_prefix="/v1/inbox",
    description="What people say to the workspace's accounts: replies, mentions, quotes and messages.",
)
streams = Blueprint(
    "streams",
    __name__,
    url_prefix="/v1/streams",
    description="Saved searches on a channel's network, read like an inbox.",
)


@dataclass(frozen=True)
class ItemDetail:
    """An item with its replies from Crier and its stored thread, for InboxItemDetailSchema."""

    item: InboxItem
    replies: list[Post]
    thread: Sequence[InboxItem]


@blp.route("")
class Inbox(MethodView):
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The channels' inbox items (or one stream's), newest first by when Crier read them.

        Items read while you page arrive at the top: paging on with `next_cursor` neither repeats nor skips
        one. Each item's `version` is its ETag.
        """
        limit, after = query.pop("limit"), query.pop("cursor", None)
        which = ItemFilter(
            channel_id=query.get("channel_id"),
            network=query.get("network"),
            kind=query.get("kind"),
            state=query.get("state"),
            assignee=query.get("assignee_id"),
            label=query.get("label"),
            post_id=query.get("post_id"),
            stream_id=query.get("stream_id"),
            unread=query.get("unread"),
            text=query.get("q"),
        )
        workspace_id = get_actor().workspace_id
        with get_services().sessions.begin() as session:
            if which.stream_id is not None:
                get_stream(session, workspace_id, which.stream_id)
            items = list_items(session, workspace_id, which, after=after, limit=limit + 1)
        return page_of(items, limit, key=lambda item: (item.received_at, item.id))


@blp.route("/unread")
class Unread(MethodView):
    @blp.response(200, UnreadSchema)
    def get(self) -> dict[str, Any]:
        """How many open items of each channel's inbox are unread, and in all (streams' not counted)."""
        with get_services().sessions.begin() as session:
            counts = unread_counts(session, get_actor().workspace_id)
        return {
            "total": sum(counts.values()),
            "channels": [
                {"channel_id": channel_id, "unread": count}
                for channel_id, count in sorted(counts.items(), key=lambda pair: str(pair[0]))
            ],
        }


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(202, InboxRefreshQueuedSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Ask a worker to read a channel's inbox or a stream now; with neither, every source that is due.

        The read keeps to the network's read limits: one that is spent waits for them.
        """
        services, workspace_id = get_services(), get_actor().workspace_id
        source_id: uuid.UUID | None = None
        with services.sessions.begin() as session:
            if "stream_id" in body:
                source_id = get_stream(session, workspace_id, body["stream_id"]).id
            elif "channel_id" in body:
                source_id = _inbox_to_read(services, session, workspace_id, body["channel_id"])
        # Sent once the transaction is over, so a check that failed sends nothing.
        if source_id is None:
            services.tasks.send(READ_INBOXES, {})
        else:
            services.tasks.send(READ_INBOX_SOURCE, {"source_id": str(source_id)})
        return {"source_id": source_id, "queued": True}


def _inbox_to_read(
    services: Services, session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID
) -> uuid.UUID | None:
    """The channel's inbox; None when no read has opened it yet (the read of all that are due will)."""
    channel = session.get(Channel, channel_id)
    if channel is None or channel.workspace_id != workspace_id:
        raise InvalidInput(
            [Problem("/channel_id", f"There is no channel with id {channel_id} in this workspace.")]
        )
    info = services.networks.get(channel.network).info
    if not info.inbox.kinds:
        raise Conflict(f"Crier reads no inbox on {info.display_name}.")
    inbox = channel_inbox(session, workspace_id, channel_id)
    return inbox.id if inbox is not None else None


@blp.route("/<uuid:item_id>")
class InboxItemById(MethodView):
    @blp.response(200, InboxItemDetailSchema, headers=ETAG_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, item_id: uuid.UUID) -> tuple[ItemDetail, dict[str, str]]:
        """An item with its notes, likes and hides, the replies made from Crier, and its stored thread."""
        with get_services().sessions.begin() as session:
            item = get_item(session, get_actor().workspace_id, item_id)
            detail = ItemDetail(item, replies_of(session, item), stored_thread(session, item))
        return detail, {"ETag": etag_of(item.version)}

    @requires(Permission.DRAFT)
    @blp.arguments(ItemChangeSchema)
    @blp.response(200, InboxItemSchema, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    def patch(self, body: dict[str, Any], item_id: uuid.UUID) -> tuple[InboxItem, dict[str, str]]:
        """Mark an item done, spam or open again, assign it (null: to nobody), set its labels, or mark it
        read or unread. Giving it to a member is announced (webhook `inbox.item_assigned`).

        Send the ETag you read as If-Match: when someone changed the item since, the answer is 412.
        """
        version, actor = expected_version(), get_actor()
        assignee: uuid.UUID | str | None = None
        if "assignee_id" in body:
            assignee = body["assignee_id"] if body["assignee_id"] is not None else NOBODY
        change = ItemChange(
            state=body.get("state"), assignee=assignee, labels=body.get("labels"), unread=body.get("unread")
        )
        with get_services().sessions.begin() as session:
            item = get_item(session, actor.workspace_id, item_id)
            change_item(session, actor, item, change, expected_version=version)
        return item, {"ETag": etag_of(item.version)}


@blp.route("/<uuid:item_id>/thread")
class Thread(MethodView):
    @blp.arguments(ThreadQuerySchema, location="query")
    @blp.response(200, ThreadSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self, query: dict[str, Any], item_id: uuid.UUID) -> dict[str, Any]:
        """The item's conversation, oldest first: as Crier stored it, or with `live=true` as the network
        has it now (the account's own posts and replies Crier has not read included)."""
        services = get_services()
        with services.sessions.begin() as session:
            item = get_item(session, get_actor().workspace_id, item_id)
            stored = stored_thread(session, item)
        if not query["live"]:
            return {"item_id": item.id, "live": False, "entries": [_stored_entry(each) for each in stored]}
        try:
            entries = network_thread(services, item)
        except NetworkError as error:
            name = services.networks.get(item.network).info.display_name
            raise Unavailable(f"{name} could not be reached to read the thread: {error}") from error
        ids = {each.external_id: each.id for each in stored}
        return {
            "item_id": item.id,
            "live": True,
            "entries": [_live_entry(entry, ids.get(entry.external_id)) for entry in entries],
        }


def _stored_entry(item: InboxItem) -> dict[str, Any]:
    return {
        "item_id": item.id,
        "external_id": item.external_id,
        "kind": item.kind,
        "author": {
            "handle": item.author_handle,
            "display_name": item.author_name,
            "avatar_url": item.author_avatar_url,
            "url": item.author_url,
        },
        "text": item.text,
        "plain_text": item.plain_text,
        "url": item.url,
        "created_at": item.created_at,
        "in_reply_to": item.in_reply_to,
        "quotes": item.quotes,
        "thread_root": item.thread_root,
    }


def _live_entry(entry: InboxEntry, item_id: uuid.UUID | None) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "external_id": entry.external_id,
        "kind": entry.kind,
        "author": {
            "handle": entry.author.handle,
            "display_name": entry.author.display_name,
            "avatar_url": entry.author.avatar_url,
            "url": entry.author.url,
        },
        "text": entry.text,
        "plain_text": entry.plain_text,
        "url": entry.url,
        "created_at": entry.created_at,
        "in_reply_to": entry.in_reply_to,
        "quotes": entry.quotes,
        "thread_root": entry.thread_root,
    }


@blp.route("/<uuid:item_id>/notes")
class Notes(MethodView):
    @requires(Permission.DRAFT)
    @blp.arguments(NoteWriteSchema)
    @blp.response(201, NoteSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body: dict[str, Any], item_id: uuid.UUID) -> InboxNote:
        """A note on the item for the team; never sent to the network."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            item = get_item(session, actor.workspace_id, item_id)
            return add_note(session, actor, item, body["text"])


@blp.route("/<uuid:item_id>/replies")
class Replies(MethodView):
    @requires(Permission.DRAFT)
    @blp.arguments(ReplyWriteSchema)
    @blp.response(201, PostSchema, headers=CREATED_HEADERS)
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any], item_id: uuid.UUID) -> tuple[Post, dict[str, str]]:
        """Reply on the item's network, from its channel: a post of its own, published once like any other.

        A member whose posts need approval (a contributor) gets a post `pending_approval`; it goes out once
        approved. The item is marked done and read. Where Crier cannot reply (GET /v1/networks:
        inbox.can_reply) the answer is 409.
        """
        services, actor = get_services(), get_actor()
        key = request.headers.get("Idempotency-Key")
        idempotency = (
            IdempotentRequest(
                key,
                "inbox.reply",
                # The item is part of the request: the same key and text for another item is another reply.
                fingerprint({"item_id": str(item_id), "body": request.get_json(silent=True)}),
            )
            if key
            else None
        )
        with services.sessions.begin() as session:
            item = get_item(session, actor.workspace_id, item_id)
        post, replayed = reply(
            services, actor, item, body["text"], thread=body["thread"], now=utcnow(), idempotency=idempotency
        )
        headers = {"Location": url_for("posts.PostById", post_id=post.id), "ETag": etag_of(post.version)}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return post, headers


@blp.route("/<uuid:item_id>/like")
class Like(MethodView):
    @requires(Permission.PUBLISH)
    @blp.response(202, ActionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, item_id: uuid.UUID) -> InboxAction:
        """Like (favourite) the item on its network, once: asked again, the first request is the answer.

        A worker performs it; follow it in GET /v1/inbox/{item_id} (`actions`).
        """
        return _act(item_id, ActionKind.LIKE)


@blp.route("/<uuid:item_id>/hide")
class Hide(MethodView):
    @requires(Permission.PUBLISH)
    @blp.response(202, ActionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, item_id: uuid.UUID) -> InboxAction:
        """Hide the reply under the account's post, where the network allows (GET /v1/networks:
        inbox.can_hide), once. A worker performs it; follow it in GET /v1/inbox/{item_id}."""
        return _act(item_id, ActionKind.HIDE)


def _act(item_id: uuid.UUID, kind: ActionKind) -> InboxAction:
    services, actor = get_services(), get_actor()
    with services.sessions.begin() as session:
        item = get_item(session, actor.workspace_id, item_id)
        action = ask_for_action(services, session, actor, item, kind)
    # After the commit: a worker asked earlier could look before the action is there.
    act_soon(services)
    return action


@streams.route("")
class Streams(MethodView):
    @streams.response(200, StreamListSchema)
    def get(self) -> dict[str, Any]:
        """The workspace's saved searches, oldest first. A stream's items: GET /v1/inbox?stream_id=."""
        with get_services().sessions.begin() as session:
            return {"items": list_streams(session, get_actor().workspace_id)}

    @requires(Permission.DRAFT)
    @streams.arguments(StreamWriteSchema)
    @streams.response(201, StreamSchema)
    @streams.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, body: dict[str, Any]) -> tuple[InboxSource, dict[str, str]]:
        """Save a search (a #hashtag, or words) on a channel's network, where Crier can search it
        (GET /v1/networks: inbox.can_search). It is read at once, then as often as it brings posts."""
        services, actor = get_services(), get_actor()
        with services.sessions.begin() as session:
            stream = create_stream(
                session, services.networks, actor, body["channel_id"], name=body["name"], query=body["query"]
            )
        _read_soon(services, stream.id)
        return stream, {"Location": url_for(".StreamById", stream_id=stream.id)}


@streams.route("/<uuid:stream_id>")
class StreamById(MethodView):
    @streams.response(200, StreamSchema)
    @streams.alt_response(404, response="NOT_FOUND")
    def get(self, stream_id: uuid.UUID) -> InboxSource:
        """A saved search, with when it was last read and what went wrong, if anything did."""
        with get_services().sessions.begin() as session:
            return get_stream(session, get_actor().workspace_id, stream_id)

    @requires(Permission.DRAFT)
    @streams.response(204)
    @streams.alt_response(404, response="NOT_FOUND")
    def delete(self, stream_id: uuid.UUID) -> None:
        """Stop reading a saved search; its items go with it (replies made from them stay, as posts)."""
        actor = get_actor()
        with get_services().sessions.begin() as session:
            delete_stream(session, actor, get_stream(session, actor.workspace_id, stream_id))


def _read_soon(services: Services, source_id: uuid.UUID) -> None:
    """Ask a worker to read the source now; should the message be lost, its periodic read comes anyway."""
    try:
        services.tasks.send(READ_INBOX_SOURCE, {"source_id": str(source_id)})
    except Exception:
        log.warning("could not ask a worker to read the stream now; its periodic read will", exc_info=True)
