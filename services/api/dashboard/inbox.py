"""The dashboard's inbox: the items people sent the workspace's channels, one item's thread, and the forms
that work it (reply, assign, state, labels, notes, like), and the saved searches ("streams").

Every page reads and changes items through the services the JSON API calls (shared.inbox), and every form
works without script: it posts with the session's CSRF token, and the answer redirects back to the page
(or shows the page again with the problem next to its field).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.pages import form_expired, refusal
from services.api.paging import MAX_CURSOR_YEAR, MIN_CURSOR_YEAR, decode_cursor, encode_cursor
from shared.channels.models import Channel
from shared.channels.services import list_channels
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.errors import InvalidInput, PreconditionFailed, Problem
from shared.idempotency.services import IdempotentRequest, fingerprint
from shared.inbox.answering import act_soon, ask_for_action, replies_of, reply
from shared.inbox.models import ActionKind, InboxItem, InboxSource, ItemState, SourceKind
from shared.inbox.streams import create_stream, delete_stream, get_stream, list_streams
from shared.inbox.threads import stored_thread
from shared.inbox.working import (
    NOBODY,
    ItemChange,
    ItemFilter,
    add_note,
    change_item,
    get_item,
    list_items,
    mark_read,
    unread_counts,
)
from shared.networks.inbox import SearchesPosts
from shared.networks.ports import InboxAbilities, InboxKind
from shared.posts.models import Post, PostState
from shared.workflow.states import post_state
from shared.workspaces.access import Actor, Permission
from shared.workspaces.models import Member
from shared.workspaces.services import list_members

T = TypeVar("T")

PAGE_SIZE = 25
# The list's assignee filter: the signed-in member's items.
MINE = "mine"
# Avatars come from each network's own servers (https only), so the inbox's pages allow those images and
# nothing else more than the rest of the dashboard; no referrer tells a network which page showed them.
INBOX_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
REPLY_OPERATION = "dashboard.inbox.reply"
# Which form field each problem of a service's answer belongs beside, by its JSON pointer's first step.
FIELD_OF_POINTER = {
    "/text": "text",
    "/assignee_id": "assignee",
    "/labels": "labels",
    "/channel_id": "channel",
    "/name": "name",
    "/query": "query",
}

inbox_blp = Blueprint("inbox", __name__, url_prefix="/inbox")


answer_refusals(inbox_blp, back=lambda: url_for(".items"))


@inbox_blp.after_request
def allow_avatars(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = INBOX_CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _chrome(session: Session, actor: Actor) -> dict[str, Any]:
    """What the top bar of every inbox page shows, and whether the member may work items."""
    return {**chrome(session, actor), "can_work": actor.can(Permission.DRAFT)}


# -- The list ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The list's filter form as asked (the strings, to fill the form again) and as the query reads it."""

    asked: dict[str, str]
    which: ItemFilter


@inbox_blp.get("")
def items() -> Any:
    """The channels' inboxes, newest first, filtered by the form's fields (GET /v1/inbox)."""
    return _items_page(None)


@inbox_blp.get("/streams/<uuid:stream_id>")
def stream_items(stream_id: uuid.UUID) -> Any:
    """One saved search's items, in the same list."""
    return _items_page(stream_id)


def _items_page(stream_id: uuid.UUID | None) -> Any:
    with get_services().sessions.begin() as session:
        actor = acting(session)
        stream = get_stream(session, actor.workspace_id, stream_id) if stream_id else None
        channels = list_channels(session, actor.workspace_id)
        members = list_members(session, actor.workspace_id)
        try:
            filters = _filters(request.args, actor, channels, members, stream)
            after = _cursor(request.args.get("before"))
        except InvalidInput as error:
            return refusal(400, error.problems[0].detail, back=request.base_url)
        found = list_items(session, actor.workspace_id, filters.which, after=after, limit=PAGE_SIZE + 1)
        shown = list(found[:PAGE_SIZE])
        # The page's own address, with the filters asked (newest first) and after the last item shown.
        endpoint, here = request.endpoint or ".items", dict(request.view_args or {})
        newest = url_for(endpoint, **{**here, **filters.asked})
        older = None
        if len(found) > PAGE_SIZE:
            last = shown[-1]
            before = encode_cursor(last.received_at, last.id)
            older = url_for(endpoint, **{**here, **filters.asked, "before": before})
        return render_template(
            "dashboard/inbox.html",
            **_chrome(session, actor),
            items=shown,
            unfiltered=url_for(endpoint, **here),
            newest=newest,
            older=older,
            paged=after is not None,
            stream=stream,
            asked=filters.asked,
            channels=channels,
            channel_names={channel.id: channel.name for channel in channels},
            member_names={member.id: member.name for member in members},
            members=members,
            unread=unread_counts(session, actor.workspace_id),
            kinds=list(InboxKind),
            states=list(ItemState),
            streams=list_streams(session, actor.workspace_id),
        )


def _filters(
    args: Mapping[str, str],
    actor: Actor,
    channels: Sequence[Channel],
    members: Sequence[Member],
    stream: InboxSource | None,
) -> Filters:
    """The form's fields read into a filter; a value the form never offers is refused, named."""
    asked = {
        name: args.get(name, "").strip()
        for name in ("channel", "kind", "state", "assignee", "label", "q", "unread")
        if args.get(name, "").strip()
    }
    channel_id = None
    if "channel" in asked and stream is None:
        channel_id = _one_of(
            asked["channel"], {str(channel.id): channel.id for channel in channels}, "channel"
        )
    assignee: uuid.UUID | str | None = None
    if "assignee" in asked:
        choices: dict[str, uuid.UUID | str] = {str(member.id): member.id for member in members}
        choices[NOBODY] = NOBODY
        if actor.member_id is not None:
            choices[MINE] = actor.member_id
        assignee = _one_of(asked["assignee"], choices, "assignee")
    which = ItemFilter(
        channel_id=channel_id,
        kind=_one_of(asked["kind"], {kind.value: kind for kind in InboxKind}, "kind")
        if "kind" in asked
        else None,
        state=(
            _one_of(asked["state"], {state.value: state for state in ItemState}, "state")
            if "state" in asked
            else None
        ),
        assignee=assignee,
        label=asked.get("label"),
        stream_id=stream.id if stream is not None else None,
        unread=True if asked.get("unread") == "1" else None,
        text=asked.get("q"),
    )
    return Filters(asked, which)


def _one_of(value: str, choices: Mapping[str, T], field: str) -> T:
    if value not in choices:
        raise InvalidInput([Problem(f"/{field}", f"{value!r} is not one of the {field} filter's choices.")])
    return choices[value]


def _cursor(value: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The `before` link's (received_at, id): only what this page gave out."""
    if not value:
        return None
    try:
        at, item_id = decode_cursor(value)
        moment, identifier = datetime.fromisoformat(at), uuid.UUID(item_id)
        if moment.tzinfo is None or not MIN_CURSOR_YEAR <= moment.astimezone(UTC).year <= MAX_CURSOR_YEAR:
            raise ValueError(at)
    except (ValueError, TypeError, OverflowError) as error:
        raise InvalidInput(
            [Problem("/before", "That link to older items is not one this page gave out.")]
        ) from error
    return moment, identifier


# -- One item ---------------------------------------------------------------------------------------------


@inbox_blp.get("/items/<uuid:item_id>")
def item(item_id: uuid.UUID) -> Any:
    """The item, its thread, what it answers, its replies and notes; opening it marks it read.

    Read or unread is the team's, not each member's: a member who may not work the inbox (a viewer)
    looks without marking it read.
    """
    with get_services().sessions.begin() as session:
        actor = acting(session)
        found = get_item(session, actor.workspace_id, item_id)
        mark_read(session, actor, found)
        return _item_page(session, actor, found)


def _item_page(
    session: Session,
    actor: Actor,
    found: InboxItem,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status: int = 200,
) -> Any:
    channel = session.get_one(Channel, found.channel_id)
    source = session.get_one(InboxSource, found.source_id)
    members = list_members(session, actor.workspace_id)
    answered = session.get(Delivery, found.delivery_id) if found.delivery_id else None
    replies = replies_of(session, found)
    html = render_template(
        "dashboard/inbox_item.html",
        **_chrome(session, actor),
        item=found,
        channel=channel,
        stream=source if source.kind is SourceKind.SEARCH else None,
        thread=stored_thread(session, found),
        answered=answered,
        replies=[(post, post_state(post)) for post in replies],
        members=members,
        member_names={member.id: member.name for member in members},
        abilities=_abilities(found.network),
        like=next((action for action in found.actions if action.kind is ActionKind.LIKE), None),
        can_like=actor.can(Permission.PUBLISH),
        errors=errors or {},
        entered=entered or {},
        reply_key=uuid.uuid4(),
    )
    return make_response(html, status)


def _abilities(network: str) -> InboxAbilities:
    try:
        return get_services().networks.get(network).info.inbox
    except Exception:
        # The network's adapter is no longer installed: its items are shown, and cannot be answered.
        return InboxAbilities()


@inbox_blp.post("/items/<uuid:item_id>/reply")
def reply_to_item(item_id: uuid.UUID) -> Any:
    """Answer the item on its network: a post of its own, published now or once approved."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    text = request.form.get("text", "")
    key = request.form.get("reply_key", "")
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        found = get_item(session, actor.workspace_id, item_id)
    if not text.strip():
        return _item_page_again(actor, item_id, {"text": "A reply needs some text."}, {"text": text})
    # The form's key, made when the page was drawn: sent twice (a double click, a resent form) it
    # makes one reply, and the second answer shows the first.
    idempotency = (
        IdempotentRequest(key, REPLY_OPERATION, fingerprint({"item_id": str(item_id), "text": text}))
        if key
        else None
    )
    try:
        post, _ = reply(services, actor, found, text, now=utcnow(), idempotency=idempotency)
    except InvalidInput as error:
        return _item_page_again(actor, item_id, _field_errors(error, default="text"), {"text": text})
    with services.sessions.begin() as session:
        state = post_state(session.get_one(Post, post.id))
    if state is PostState.PENDING_APPROVAL:
        flash("Your reply waits for an approver: it goes out once approved.")
    else:
        flash(f"Your reply is {state.value.replace('_', ' ')}: it goes out at once.")
    return redirect(url_for(".item", item_id=item_id) + "#replies")


@inbox_blp.post("/items/<uuid:item_id>/assign")
def assign_item(item_id: uuid.UUID) -> Any:
    assignee = request.form.get("assignee", "").strip()
    return _change(item_id, ItemChange(assignee=_member_id(assignee) if assignee else NOBODY), "Assigned.")


@inbox_blp.post("/items/<uuid:item_id>/state")
def change_state(item_id: uuid.UUID) -> Any:
    asked = request.form.get("state", "")
    if asked not in {state.value for state in ItemState}:
        return refusal(
            400, f"{asked!r} is not a state an item can be in.", back=url_for(".item", item_id=item_id)
        )
    state = ItemState(asked)
    said = {ItemState.DONE: "Marked done.", ItemState.OPEN: "Reopened.", ItemState.SPAM: "Marked as spam."}
    return _change(item_id, ItemChange(state=state), said[state])


@inbox_blp.post("/items/<uuid:item_id>/labels")
def change_labels(item_id: uuid.UUID) -> Any:
    labels = [name for name in request.form.get("labels", "").split(",") if name.strip()]
    return _change(item_id, ItemChange(labels=labels), "Labels saved.")


def _member_id(value: str) -> uuid.UUID | str:
    """A member's id as the form sent it; what is not one is passed on for the service to refuse."""
    if value == NOBODY:
        return NOBODY
    try:
        return uuid.UUID(value)
    except ValueError:
        return value


def _change(item_id: uuid.UUID, change: ItemChange, done: str) -> Any:
    """Apply a change to the copy of the item the form was drawn from (its version)."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    fields = {"assignee": request.form.get("assignee", ""), "labels": request.form.get("labels", "")}
    services = get_services()
    try:
        with services.sessions.begin() as session:
            actor = acting(session, Permission.DRAFT)
            found = get_item(session, actor.workspace_id, item_id)
            change_item(session, actor, found, change, expected_version=_version())
    except InvalidInput as error:
        return _item_page_again(actor, item_id, _field_errors(error, default="assignee"), fields)
    except (PreconditionFailed, StaleDataError):
        stale = (
            "Someone changed the item while you were looking at it: here it is now; make your change again."
        )
        return _item_page_again(actor, item_id, {"stale": stale}, fields, status=409)
    flash(done)
    return redirect(url_for(".item", item_id=item_id))


def _version() -> int | None:
    try:
        return int(request.form["version"])
    except (KeyError, ValueError):
        return None


@inbox_blp.post("/items/<uuid:item_id>/notes")
def note_item(item_id: uuid.UUID) -> Any:
    """A note for the team; never sent to the network."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    text = request.form.get("note", "")
    try:
        with get_services().sessions.begin() as session:
            actor = acting(session, Permission.DRAFT)
            add_note(session, actor, get_item(session, actor.workspace_id, item_id), text)
    except InvalidInput as error:
        return _item_page_again(actor, item_id, {"note": _details(error)}, {"note": text})
    flash("Note added.")
    return redirect(url_for(".item", item_id=item_id) + "#notes")


@inbox_blp.post("/items/<uuid:item_id>/like")
def like_item(item_id: uuid.UUID) -> Any:
    """Like the item on its network, once; a worker does it as soon as this is committed."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.PUBLISH)
        ask_for_action(
            services, session, actor, get_item(session, actor.workspace_id, item_id), ActionKind.LIKE
        )
    act_soon(services)
    flash("Liked: it is sent to the network now.")
    return redirect(url_for(".item", item_id=item_id))


def _item_page_again(
    actor: Actor,
    item_id: uuid.UUID,
    errors: Mapping[str, str],
    entered: Mapping[str, str],
    *,
    status: int = 422,
) -> Any:
    """The item page again, with what was typed and each problem beside its field."""
    with get_services().sessions.begin() as session:
        found = get_item(session, actor.workspace_id, item_id)
        return _item_page(session, actor, found, errors=errors, entered=entered, status=status)


def _field_errors(error: InvalidInput, *, default: str) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    for problem in error.problems:
        field = FIELD_OF_POINTER.get("/" + problem.pointer.split("/")[1] if problem.pointer else "", default)
        errors.setdefault(field, []).append(problem.detail)
    if not errors:
        errors[default] = [error.detail]
    return {field: " ".join(details) for field, details in errors.items()}


def _details(error: InvalidInput) -> str:
    return " ".join(problem.detail for problem in error.problems) or error.detail


# -- Streams ----------------------------------------------------------------------------------------------


@inbox_blp.get("/streams")
def streams() -> Any:
    """The workspace's saved searches, and the form to add one."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        return _streams_page(session, actor)


def _streams_page(
    session: Session,
    actor: Actor,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status: int = 200,
) -> Any:
    channels = list_channels(session, actor.workspace_id)
    html = render_template(
        "dashboard/inbox_streams.html",
        **_chrome(session, actor),
        streams=list_streams(session, actor.workspace_id),
        channel_names={channel.id: channel.name for channel in channels},
        searchable=[channel for channel in channels if _can_search(channel.network)],
        errors=errors or {},
        entered=entered or {},
    )
    return make_response(html, status)


def _can_search(network_name: str) -> bool:
    try:
        network = get_services().networks.get(network_name)
    except Exception:
        return False
    return network.info.inbox.can_search and isinstance(network, SearchesPosts)


@inbox_blp.post("/streams")
def add_stream() -> Any:
    if not signin.csrf_token_is_valid():
        return form_expired()
    entered = {name: request.form.get(name, "") for name in ("channel", "name", "query")}
    services = get_services()
    try:
        with services.sessions.begin() as session:
            actor = acting(session, Permission.DRAFT)
            try:
                channel_id = uuid.UUID(entered["channel"])
            except ValueError:
                _refuse_field("/channel_id", "Choose one of the workspace's channels.")
            stream = create_stream(
                session, services.networks, actor, channel_id, name=entered["name"], query=entered["query"]
            )
    except InvalidInput as error:
        with services.sessions.begin() as session:
            return _streams_page(
                session, actor, errors=_field_errors(error, default="query"), entered=entered, status=422
            )
    flash(f"The stream {stream.name!r} is read from now on; its first items come at its first read.")
    return redirect(url_for(".stream_items", stream_id=stream.id))


def _refuse_field(pointer: str, detail: str) -> NoReturn:
    raise InvalidInput([Problem(pointer, detail)])


@inbox_blp.post("/streams/<uuid:stream_id>/delete")
def remove_stream(stream_id: uuid.UUID) -> Any:
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.DRAFT)
        stream = get_stream(session, actor.workspace_id, stream_id)
        name = stream.name
        delete_stream(session, actor, stream)
    flash(f"The stream {name!r} is deleted, and its items with it.")
    return redirect(url_for(".streams"))
