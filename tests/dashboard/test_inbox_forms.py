"""The inbox's forms without a browser: each problem shown beside its field, nothing changed by a refused
form, and what a member's role lets them do."""

from __future__ import annotations

import re
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from services.api.dashboard.inbox import PAGE_SIZE
from shared.bootstrap import Services
from shared.inbox.models import (
    ActionKind,
    ActionState,
    InboxAction,
    InboxItem,
    InboxReply,
    InboxSource,
    ItemState,
)
from shared.inbox.streams import create_stream
from shared.inbox.working import ItemFilter, list_items
from shared.networks.ports import InboxKind
from shared.task_names import PERFORM_INBOX_ACTIONS
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.access import Actor, Role, Scope
from tests.dashboard.conftest import csrf_token_of, sign_in
from tests.dashboard.inbox_seeding import InboxSeed, item_id_of, item_of, read_sources_now, seed_inbox
from tests.driving import publish_what_is_due

REPLY_KEY = re.compile(r'name="reply_key" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture
def inbox(services: Services) -> InboxSeed:
    return seed_inbox(services)


def item_page(client: FlaskClient, item_id: uuid.UUID) -> str:
    response = client.get(f"/dashboard/inbox/items/{item_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def reply_form(client: FlaskClient, item_id: uuid.UUID, text: str) -> dict[str, str]:
    page = item_page(client, item_id)
    key = REPLY_KEY.search(page)
    assert key is not None, "the page has no reply form"
    return {"csrf_token": csrf_token_of(page), "reply_key": key.group(1), "text": text}


def change_form(client: FlaskClient, item_id: uuid.UUID, **fields: str) -> dict[str, str]:
    page = item_page(client, item_id)
    version = VERSION.search(page)
    assert version is not None, "the page has no form that changes the item"
    return {"csrf_token": csrf_token_of(page), "version": version.group(1), **fields}


def error_beside(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="[^"]+" data-test="error-{field}">([^<]*)</p>', page)
    assert found is not None, f"no error beside {field}"
    return found.group(1)


def replies_count(services: Services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(InboxReply)) or 0


def test_an_empty_reply_is_refused_beside_its_field_and_makes_no_post(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])

    response = client.post(
        f"/dashboard/inbox/items/{item_id}/reply", data=reply_form(client, item_id, "  \n ")
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(page, "text") == "A reply needs some text."
    assert 'aria-describedby="reply-text-error"' in page
    assert replies_count(services) == 0
    assert item_of(services, inbox.reply_ids[0]).state is ItemState.OPEN


def test_a_reply_too_long_for_its_network_is_refused_in_the_networks_words(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])
    too_long = "Yes! " * 200

    response = client.post(
        f"/dashboard/inbox/items/{item_id}/reply", data=reply_form(client, item_id, too_long)
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "500" in error_beside(page, "text")
    assert too_long.strip() in page, "what was typed is kept"
    assert replies_count(services) == 0


def test_a_reply_form_sent_twice_makes_one_reply(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])
    form = reply_form(client, item_id, "It closes at six.")

    first = client.post(f"/dashboard/inbox/items/{item_id}/reply", data=form)
    again = client.post(f"/dashboard/inbox/items/{item_id}/reply", data=form)
    publish_what_is_due(services)

    assert (first.status_code, again.status_code) == (302, 302)
    assert replies_count(services) == 1
    assert [row["text"] for row in inbox.audience.store.replies_to([inbox.reply_ids[0]])] == [
        "It closes at six."
    ]


def test_a_contributors_reply_waits_for_an_approver_and_nothing_goes_out(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.contributor_token)
    item_id = item_id_of(services, inbox.reply_ids[1])

    response = client.post(
        f"/dashboard/inbox/items/{item_id}/reply", data=reply_form(client, item_id, "Yes, a whole table.")
    )
    publish_what_is_due(services)
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 302
    assert "Your reply waits for an approver" in page
    assert '<span class="state" data-test="reply-state">pending approval</span>' in page
    assert inbox.audience.store.replies_to([inbox.reply_ids[1]]) == []


def test_assigning_to_someone_who_is_not_a_member_is_refused_beside_the_field(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])
    stranger = uuid.uuid4()

    unknown = client.post(
        f"/dashboard/inbox/items/{item_id}/assign", data=change_form(client, item_id, assignee=str(stranger))
    )
    garbled = client.post(
        f"/dashboard/inbox/items/{item_id}/assign", data=change_form(client, item_id, assignee="somebody")
    )

    assert unknown.status_code == 422
    assert error_beside(unknown.get_data(as_text=True), "assignee") == (
        f"There is no member with id {stranger} in this workspace."
    )
    assert garbled.status_code == 422
    assert (
        error_beside(garbled.get_data(as_text=True), "assignee")
        == "&#39;somebody&#39; is not a member&#39;s id."
    )
    assert item_of(services, inbox.reply_ids[0]).assignee_id is None


def test_a_member_of_another_workspace_cannot_be_assigned(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    other = seed_inbox(services, "Hillside Library")
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])

    response = client.post(
        f"/dashboard/inbox/items/{item_id}/assign",
        data=change_form(client, item_id, assignee=str(other.editor.id)),
    )

    assert response.status_code == 422
    assert item_of(services, inbox.reply_ids[0]).assignee_id is None


def test_a_change_made_on_a_stale_copy_of_the_item_is_refused(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])
    stale = change_form(client, item_id, assignee=str(inbox.editor.id))
    assert (
        client.post(f"/dashboard/inbox/items/{item_id}/state", data={**stale, "state": "done"}).status_code
        == 302
    )

    response = client.post(f"/dashboard/inbox/items/{item_id}/assign", data=stale)

    assert response.status_code == 409
    assert 'data-test="error-stale"' in response.get_data(as_text=True)
    assert item_of(services, inbox.reply_ids[0]).assignee_id is None
    assert item_of(services, inbox.reply_ids[0]).state is ItemState.DONE


def test_an_empty_note_is_refused_and_a_note_is_kept_for_the_team(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])
    csrf = csrf_token_of(item_page(client, item_id))

    empty = client.post(f"/dashboard/inbox/items/{item_id}/notes", data={"csrf_token": csrf, "note": " "})
    kept = client.post(
        f"/dashboard/inbox/items/{item_id}/notes", data={"csrf_token": csrf, "note": "Ask Sam."}
    )

    assert empty.status_code == 422
    assert error_beside(empty.get_data(as_text=True), "note") == "A note needs some text."
    assert kept.status_code == 302
    assert [note.text for note in item_of(services, inbox.reply_ids[0]).notes] == ["Ask Sam."]


def test_liking_asks_a_worker_once_the_request_is_committed(
    client: FlaskClient, services: Services, task_queue: MemoryTaskQueue, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[2])
    csrf = csrf_token_of(item_page(client, item_id))

    liked = client.post(f"/dashboard/inbox/items/{item_id}/like", data={"csrf_token": csrf})
    again = client.post(f"/dashboard/inbox/items/{item_id}/like", data={"csrf_token": csrf})

    assert (liked.status_code, again.status_code) == (302, 302)
    with services.sessions() as session:
        actions = session.scalars(select(InboxAction)).all()
    assert [(action.kind, action.state) for action in actions] == [(ActionKind.LIKE, ActionState.PENDING)]
    assert [task.name for task in task_queue.sent].count(PERFORM_INBOX_ACTIONS) == 2
    assert 'data-test="like-state" data-state="pending"' in item_page(client, item_id)


def test_a_viewer_sees_the_item_without_a_form_marks_nothing_read_and_is_refused_every_change(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.viewer_token)
    item_id = item_id_of(services, inbox.reply_ids[0])
    stream_id = add_stream_as_editor(services, inbox)

    page = item_page(client, item_id)
    streams_page = client.get("/dashboard/inbox/streams").get_data(as_text=True)
    csrf = csrf_token_of(page)  # the sign-out form's
    refused = {
        path: client.post(
            path, data={"csrf_token": csrf, "text": "Hi", "note": "Hi", "state": "done"}
        ).status_code
        for path in (
            f"/dashboard/inbox/items/{item_id}/reply",
            f"/dashboard/inbox/items/{item_id}/assign",
            f"/dashboard/inbox/items/{item_id}/state",
            f"/dashboard/inbox/items/{item_id}/labels",
            f"/dashboard/inbox/items/{item_id}/notes",
            f"/dashboard/inbox/items/{item_id}/like",
            "/dashboard/inbox/streams",
            f"/dashboard/inbox/streams/{stream_id}/delete",
        )
    }

    forms = re.findall(r'<form [^>]*method="post" action="([^"]+)"', page + streams_page)
    assert set(forms) == {"/dashboard/sign-out"}
    assert set(refused.values()) == {403}, refused
    assert item_of(services, inbox.reply_ids[0]).unread, "a viewer's look does not mark it read"
    assert item_of(services, inbox.reply_ids[0]).state is ItemState.OPEN
    assert replies_count(services) == 0
    with services.sessions() as session:
        assert session.get(InboxSource, stream_id) is not None


def test_a_contributor_may_work_the_item_but_not_like_it(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.contributor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])
    page = item_page(client, item_id)

    liked = client.post(f"/dashboard/inbox/items/{item_id}/like", data={"csrf_token": csrf_token_of(page)})

    assert f"/dashboard/inbox/items/{item_id}/assign" in page
    assert f"/dashboard/inbox/items/{item_id}/like" not in page
    assert liked.status_code == 403


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    item_id = item_id_of(services, inbox.reply_ids[0])

    reply = client.post(
        f"/dashboard/inbox/items/{item_id}/reply", data={"text": "Hi", "csrf_token": "forged"}
    )
    state = client.post(f"/dashboard/inbox/items/{item_id}/state", data={"state": "spam"})

    assert (reply.status_code, state.status_code) == (400, 400)
    assert replies_count(services) == 0
    assert item_of(services, inbox.reply_ids[0]).state is ItemState.OPEN


def test_another_workspaces_item_and_stream_are_not_found(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    other = seed_inbox(services, "Hillside Library")
    other_stream = add_stream_as_editor(services, other)
    sign_in(client, inbox.editor_token)
    other_item = item_id_of(services, other.reply_ids[0])

    listed = client.get("/dashboard/inbox").get_data(as_text=True)

    assert client.get(f"/dashboard/inbox/items/{other_item}").status_code == 404
    assert client.get(f"/dashboard/inbox/streams/{other_stream}").status_code == 404
    assert str(other_item) not in listed
    assert "Hillside Library" not in listed
    assert len(re.findall(r'<li class="inbox-item', listed)) == 4


def test_a_filter_value_the_form_never_offers_is_refused(client: FlaskClient, inbox: InboxSeed) -> None:
    sign_in(client, inbox.editor_token)

    assert client.get("/dashboard/inbox?kind=shout").status_code == 400
    assert client.get(f"/dashboard/inbox?channel={uuid.uuid4()}").status_code == 400
    assert client.get("/dashboard/inbox?before=not-a-cursor").status_code == 400


def test_a_stream_form_shows_each_problem_beside_its_field(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    csrf = csrf_token_of(client.get("/dashboard/inbox/streams").get_data(as_text=True))

    response = client.post(
        "/dashboard/inbox/streams",
        data={"csrf_token": csrf, "channel": str(inbox.channel.id), "name": "", "query": "   "},
    )
    no_channel = client.post(
        "/dashboard/inbox/streams", data={"csrf_token": csrf, "channel": "", "name": "Fair", "query": "fair"}
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_beside(page, "name") == "A stream&#39;s name is 1 to 200 characters."
    assert error_beside(page, "query") == "the query is empty"
    assert no_channel.status_code == 422
    assert (
        error_beside(no_channel.get_data(as_text=True), "channel")
        == "Choose one of the workspace&#39;s channels."
    )
    with services.sessions() as session:
        assert session.scalars(select(InboxSource).where(InboxSource.name.is_not(None))).all() == []


def test_the_inbox_pages_allow_https_avatars_and_send_no_referrer(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    ada, grace = (item_id_of(services, external_id) for external_id in inbox.reply_ids[:2])
    with services.sessions.begin() as session:
        shown = session.get_one(InboxItem, ada)
        shown.author_name = "Ada Lovelace"
        shown.author_avatar_url = "https://files.example.social/ada.png"
        session.get_one(InboxItem, grace).author_avatar_url = "http://files.example.social/grace.png"

    response = client.get("/dashboard/inbox")

    page = response.get_data(as_text=True)
    assert (
        '<img class="avatar" src="https://files.example.social/ada.png" alt="Avatar of Ada Lovelace"' in page
    )
    assert "grace.png" not in page, "an avatar over plain http is not shown"
    assert "img-src 'self' data: https:;" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "img-src 'self' data:;" in client.get("/dashboard").headers["Content-Security-Policy"]


def add_stream_as_editor(services: Services, inbox: InboxSeed) -> uuid.UUID:
    actor = Actor.of(inbox.workspace.id, inbox.editor.id, Role.EDITOR, Scope.WRITE, inbox.editor.name)
    with services.sessions.begin() as session:
        return create_stream(
            session, services.networks, actor, inbox.channel.id, name="Fair", query="book fair"
        ).id


def listed(client: FlaskClient, url: str) -> tuple[list[str], str | None]:
    """The sandbox ids the list shows, top to bottom, and its link to older items."""
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    older = re.search(r'<a href="([^"]+)" rel="next" data-test="older">', page)
    return re.findall(r'data-external-id="([^"]+)" data-kind', page), (
        older.group(1).replace("&amp;", "&") if older else None
    )


def test_older_items_are_a_link_away_none_shown_twice_and_the_filters_kept(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    assert inbox.published.external_id is not None
    more = [inbox.audience.reply(inbox.published.external_id, f"Reply {n}", author="fan") for n in range(30)]
    assert read_sources_now(services) == len(more)
    sign_in(client, inbox.editor_token)

    first, older = listed(client, "/dashboard/inbox?kind=reply")
    assert older is not None
    assert "kind=reply" in older
    second, oldest = listed(client, older)

    with services.sessions() as session:
        expected = [
            item.external_id
            for item in list_items(session, inbox.workspace.id, ItemFilter(kind=InboxKind.REPLY), limit=100)
        ]
    assert len(first) == PAGE_SIZE
    assert first + second == expected
    assert set(expected) == {*inbox.reply_ids, *more}
    assert oldest is None


def test_items_are_found_by_label_words_and_who_has_them(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    sign_in(client, inbox.editor_token)
    ada, grace = (item_id_of(services, external_id) for external_id in inbox.reply_ids[:2])
    labelled = client.post(
        f"/dashboard/inbox/items/{ada}/labels",
        data=change_form(client, ada, labels="question, events ,question"),
    )
    assigned = client.post(
        f"/dashboard/inbox/items/{grace}/assign",
        data=change_form(client, grace, assignee=str(inbox.editor.id)),
    )

    assert (labelled.status_code, assigned.status_code) == (302, 302)
    assert item_of(services, inbox.reply_ids[0]).label_names == ["events", "question"]
    assert listed(client, "/dashboard/inbox?label=events")[0] == [inbox.reply_ids[0]]
    assert listed(client, "/dashboard/inbox?q=CHILDREN")[0] == [inbox.reply_ids[1]]
    assert listed(client, "/dashboard/inbox?q=margaret")[0] == [inbox.mention_id]
    assert listed(client, "/dashboard/inbox?assignee=mine")[0] == [inbox.reply_ids[1]]
    assert listed(client, f"/dashboard/inbox?assignee={inbox.editor.id}")[0] == [inbox.reply_ids[1]]
    assert set(listed(client, "/dashboard/inbox?assignee=none")[0]) == {
        inbox.reply_ids[0],
        inbox.reply_ids[2],
        inbox.mention_id,
    }


def test_a_browser_that_is_not_signed_in_is_sent_to_sign_in_and_may_post_nothing(
    client: FlaskClient, services: Services, inbox: InboxSeed
) -> None:
    item_id = item_id_of(services, inbox.reply_ids[0])
    csrf = csrf_token_of(client.get("/dashboard/sign-in").get_data(as_text=True))

    looked = client.get(f"/dashboard/inbox/items/{item_id}")
    posted = client.post(
        f"/dashboard/inbox/items/{item_id}/state", data={"csrf_token": csrf, "state": "spam"}
    )

    assert looked.status_code == 302
    assert looked.headers["Location"] == "/dashboard/sign-in"
    assert posted.status_code == 302
    assert item_of(services, inbox.reply_ids[0]).state is ItemState.OPEN
    assert item_of(services, inbox.reply_ids[0]).unread
