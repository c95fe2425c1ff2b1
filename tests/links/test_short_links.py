"""Short links per delivery, counted atomically, and the link settings a channel gets, on both backends."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from shared.audit.models import AuditEntry
from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.config import Settings
from shared.db import create_db_engine, utcnow
from shared.deliveries.models import Delivery
from shared.errors import InvalidInput, NotFound
from shared.links import services as links
from shared.links.models import LinkSettings, ShortLink, ShortLinkVisit
from shared.links.services import (
    LinkRules,
    RulesSource,
    clicks_by_delivery,
    effective_link_settings,
    find_target,
    record_click,
    remove_channel_link_settings,
    rewrite_links,
    save_link_settings,
    shorten_for_delivery,
    utm_context,
    visitor_digest,
)
from shared.models import create_session_factory
from shared.workspaces.access import Actor
from shared.workspaces.models import Workspace
from tests.factories import make_channel, make_post, make_workspace, only_delivery_id

PUBLIC_URL = "https://crier.example.org"
TARGET = "https://example.org/meetup?utm_source=mastodon"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return make_workspace(services)[0]


@pytest.fixture
def channel(services: Services, workspace: Workspace) -> Channel:
    return make_channel(services, workspace, "Acme on Sandbox")


@pytest.fixture
def delivery_id(services: Services, workspace: Workspace, channel: Channel) -> uuid.UUID:
    return only_delivery_id(make_post(services, workspace, [channel], text=f"Tickets: {TARGET}"))


@pytest.fixture
def actor(workspace: Workspace) -> Actor:
    return Actor.system(workspace.id)


def shorten(services: Services, workspace: Workspace, delivery_id: uuid.UUID, url: str = TARGET) -> str:
    with services.sessions.begin() as session:
        return shorten_for_delivery(session, workspace.id, delivery_id, url, PUBLIC_URL)


def code_of(short_url: str) -> str:
    return short_url.removeprefix(f"{PUBLIC_URL}/l/")


def click(services: Services, code: str, now: datetime = NOW) -> str | None:
    with services.sessions.begin() as session:
        return record_click(session, code, now)


def read_link(services: Services, code: str) -> ShortLink:
    with services.sessions() as session:
        return session.scalars(select(ShortLink).where(ShortLink.code == code)).one()


# --- short links -----------------------------------------------------------------------------------------


def test_shortening_mints_a_link_of_crier_with_an_eight_character_code(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    short_url = shorten(services, workspace, delivery_id)

    assert short_url.startswith(f"{PUBLIC_URL}/l/")
    link = read_link(services, code_of(short_url))
    assert len(link.code) == 8
    assert (link.workspace_id, link.delivery_id, link.target_url) == (workspace.id, delivery_id, TARGET)
    assert (link.clicks, link.first_clicked_at, link.last_clicked_at) == (0, None, None)


def test_shortening_the_same_target_again_for_the_same_delivery_gives_the_same_link(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    first = shorten(services, workspace, delivery_id)

    again = shorten(services, workspace, delivery_id)

    assert again == first
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ShortLink)) == 1


def test_a_retried_delivery_rewrites_its_text_to_the_very_same_links(
    services: Services, workspace: Workspace, channel: Channel, delivery_id: uuid.UUID
) -> None:
    rules = LinkRules(shorten=True, utm={"utm_source": "{network}", "utm_content": "{post_id}"})
    context = utm_context(
        network=channel.network, channel_name=channel.name, post_id=uuid.uuid4(), scheduled_at=NOW
    )
    text = "Tickets https://example.org/meetup and the map https://example.org/map"

    def rewrite() -> str:
        with services.sessions.begin() as session:
            return rewrite_links(
                text,
                rules,
                context=context,
                shorten=lambda url: shorten_for_delivery(session, workspace.id, delivery_id, url, PUBLIC_URL),
            )

    first, retried = rewrite(), rewrite()

    assert retried == first
    assert first.count(f"{PUBLIC_URL}/l/") == 2
    with services.sessions() as session:
        targets = session.scalars(select(ShortLink.target_url).order_by(ShortLink.target_url)).all()
    assert targets == [
        f"https://example.org/map?utm_source=sandbox&utm_content={context['post_id']}",
        f"https://example.org/meetup?utm_source=sandbox&utm_content={context['post_id']}",
    ]


def test_another_target_or_another_delivery_gets_a_link_of_its_own(
    services: Services, workspace: Workspace, channel: Channel, delivery_id: uuid.UUID
) -> None:
    other_channel = make_channel(services, workspace, "Other")
    other_delivery_id = only_delivery_id(make_post(services, workspace, [other_channel]))

    links_made = {
        shorten(services, workspace, delivery_id),
        shorten(services, workspace, delivery_id, "https://example.org/other"),
        shorten(services, workspace, other_delivery_id),
    }

    assert len(links_made) == 3


def test_a_code_already_taken_is_drawn_again(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = code_of(shorten(services, workspace, delivery_id))
    draws = iter([taken, taken, "Fresh123"])
    monkeypatch.setattr(links, "new_code", lambda: next(draws))

    short_url = shorten(services, workspace, delivery_id, "https://example.org/other")

    assert short_url == f"{PUBLIC_URL}/l/Fresh123"
    assert read_link(services, taken).target_url == TARGET


def test_shortening_gives_up_when_every_code_drawn_is_taken(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = code_of(shorten(services, workspace, delivery_id))
    monkeypatch.setattr(links, "new_code", lambda: taken)

    with pytest.raises(RuntimeError, match="no free short-link code"):
        shorten(services, workspace, delivery_id, "https://example.org/other")


def test_a_deliverys_links_go_with_it(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    shorten(services, workspace, delivery_id)

    with services.sessions.begin() as session:
        session.execute(delete(Delivery).where(Delivery.id == delivery_id))

    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ShortLink)) == 0


# --- clicks ----------------------------------------------------------------------------------------------


def test_a_click_is_counted_and_answers_the_target(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    code = code_of(shorten(services, workspace, delivery_id))

    assert click(services, code, NOW) == TARGET
    assert click(services, code, NOW + timedelta(minutes=5)) == TARGET

    link = read_link(services, code)
    assert link.clicks == 2
    assert link.first_clicked_at == NOW
    assert link.last_clicked_at == NOW + timedelta(minutes=5)


def test_a_click_on_an_unknown_code_counts_nothing(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    code = code_of(shorten(services, workspace, delivery_id))

    assert click(services, "Nope1234") is None
    assert read_link(services, code).clicks == 0


def test_finding_a_target_counts_no_click(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    code = code_of(shorten(services, workspace, delivery_id))

    with services.sessions.begin() as session:
        assert find_target(session, code) == TARGET
        assert find_target(session, "Nope1234") is None

    assert read_link(services, code).clicks == 0


def test_clicks_at_the_same_moment_are_all_counted(
    services: Services, settings: Settings, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    threads, clicks_each = 20, 10
    code = code_of(shorten(services, workspace, delivery_id))
    # A connection for each thread, so the clicks really race rather than queue for the pool.
    engine = create_db_engine(settings.resolved_database_url, pool_size=threads)
    sessions = create_session_factory(engine)
    start = threading.Barrier(threads, timeout=30)

    def click_repeatedly() -> None:
        start.wait()
        for _ in range(clicks_each):
            with sessions.begin() as session:
                assert record_click(session, code, utcnow()) == TARGET

    try:
        with ThreadPoolExecutor(threads) as pool:
            # .result() re-raises, so a thread that failed (a deadlock, a busy database) fails the test.
            for future in [pool.submit(click_repeatedly) for _ in range(threads)]:
                future.result()
    finally:
        engine.dispose()

    assert read_link(services, code).clicks == threads * clicks_each


def test_one_visitor_counts_once_a_window_and_again_after_it(
    services: Services, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    code = code_of(shorten(services, workspace, delivery_id))
    reader, other = visitor_digest("192.0.2.1", "Firefox"), visitor_digest("192.0.2.2", "Firefox")

    def visit(visitor: str, at: datetime) -> str | None:
        with services.sessions.begin() as session:
            return record_click(session, code, at, visitor=visitor, window=timedelta(hours=1))

    answers = [
        visit(reader, NOW),
        visit(reader, NOW + timedelta(minutes=1)),  # a reload
        visit(other, NOW + timedelta(minutes=2)),  # another reader
        visit(reader, NOW + timedelta(minutes=59)),
        visit(reader, NOW + timedelta(minutes=61)),  # the window is over: counted again
    ]

    assert answers == [TARGET] * 5
    link = read_link(services, code)
    assert link.clicks == 3
    assert link.last_clicked_at == NOW + timedelta(minutes=61)
    with services.sessions() as session:
        # Only this window's visitors are kept: the first click's row was renewed, none outlived its hour.
        kept = session.execute(select(ShortLinkVisit.visitor, ShortLinkVisit.counted_at)).all()
    assert sorted(kept) == sorted(
        [(reader, NOW + timedelta(minutes=61)), (other, NOW + timedelta(minutes=2))]
    )


def test_a_visitor_s_clicks_at_the_same_moment_count_once(
    services: Services, settings: Settings, workspace: Workspace, delivery_id: uuid.UUID
) -> None:
    threads = 16
    code = code_of(shorten(services, workspace, delivery_id))
    engine = create_db_engine(settings.resolved_database_url, pool_size=threads)
    sessions = create_session_factory(engine)
    start = threading.Barrier(threads, timeout=30)
    script = visitor_digest("203.0.113.9", "curl/8.5")

    def click_once() -> None:
        start.wait()
        with sessions.begin() as session:
            assert record_click(session, code, utcnow(), visitor=script) == TARGET

    try:
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(click_once) for _ in range(threads)]:
                future.result()
    finally:
        engine.dispose()

    assert read_link(services, code).clicks == 1


def test_a_visitor_is_kept_as_a_digest_not_as_an_address() -> None:
    digest = visitor_digest("192.0.2.1", "Firefox")

    assert len(digest) == 64
    assert "192.0.2.1" not in digest
    assert digest != visitor_digest("192.0.2.1", "Chrome")


def test_clicks_add_up_per_delivery_and_a_delivery_without_links_has_no_count(
    services: Services, workspace: Workspace, channel: Channel, delivery_id: uuid.UUID
) -> None:
    quiet_channel = make_channel(services, workspace, "Quiet")
    quiet_delivery_id = only_delivery_id(make_post(services, workspace, [quiet_channel]))
    meetup = code_of(shorten(services, workspace, delivery_id))
    map_ = code_of(shorten(services, workspace, delivery_id, "https://example.org/map"))
    for code in (meetup, meetup, map_):
        click(services, code)

    with services.sessions() as session:
        counts = clicks_by_delivery(session, [delivery_id, quiet_delivery_id])

    assert counts == {delivery_id: 3}


# --- settings --------------------------------------------------------------------------------------------


def rules_for(services: Services, workspace: Workspace, channel_id: uuid.UUID | None) -> LinkRules:
    with services.sessions() as session:
        return effective_link_settings(session, workspace.id, channel_id)


def save(
    services: Services, actor: Actor, channel_id: uuid.UUID | None, *, shorten: bool, utm: dict[str, str]
) -> LinkRules:
    with services.sessions.begin() as session:
        return save_link_settings(session, actor, channel_id, shorten=shorten, utm=utm)


def test_with_nothing_set_links_are_left_alone(
    services: Services, workspace: Workspace, channel: Channel
) -> None:
    assert rules_for(services, workspace, channel.id) == LinkRules(source=RulesSource.NONE)
    assert not rules_for(services, workspace, None).rewrites


def test_the_workspace_default_applies_to_a_channel_without_an_override(
    services: Services, workspace: Workspace, channel: Channel, actor: Actor
) -> None:
    save(services, actor, None, shorten=True, utm={"utm_source": "{network}"})

    assert rules_for(services, workspace, channel.id) == LinkRules(
        shorten=True, utm={"utm_source": "{network}"}, source=RulesSource.WORKSPACE
    )


def test_a_channels_override_replaces_the_default_whole_and_only_for_that_channel(
    services: Services, workspace: Workspace, channel: Channel, actor: Actor
) -> None:
    other = make_channel(services, workspace, "Other")
    save(services, actor, None, shorten=True, utm={"utm_source": "{network}", "utm_medium": "social"})

    save(services, actor, channel.id, shorten=False, utm={"utm_campaign": "{label}"})

    assert rules_for(services, workspace, channel.id) == LinkRules(
        shorten=False, utm={"utm_campaign": "{label}"}, source=RulesSource.CHANNEL
    )
    assert rules_for(services, workspace, other.id).source is RulesSource.WORKSPACE


def test_removing_the_override_brings_back_the_default(
    services: Services, workspace: Workspace, channel: Channel, actor: Actor
) -> None:
    save(services, actor, None, shorten=True, utm={})
    save(services, actor, channel.id, shorten=False, utm={})

    with services.sessions.begin() as session:
        remove_channel_link_settings(session, actor, channel.id)

    assert rules_for(services, workspace, channel.id).source is RulesSource.WORKSPACE


def test_saving_again_replaces_the_settings_in_their_one_row(
    services: Services, workspace: Workspace, channel: Channel, actor: Actor
) -> None:
    for channel_id in (None, channel.id):
        save(services, actor, channel_id, shorten=True, utm={"utm_source": "a", "utm_term": "b"})
        saved = save(services, actor, channel_id, shorten=False, utm={"utm_source": "c"})
        assert (saved.shorten, saved.utm) == (False, {"utm_source": "c"})

    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LinkSettings)) == 2


def test_the_parameters_are_kept_in_the_usual_order_whatever_order_they_came_in(
    services: Services, workspace: Workspace, actor: Actor
) -> None:
    saved = save(
        services, actor, None, shorten=False, utm={"utm_content": "c", "utm_source": "s", "utm_medium": "m"}
    )

    assert list(saved.utm) == ["utm_source", "utm_medium", "utm_content"]


def test_the_database_holds_one_default_per_workspace(services: Services, workspace: Workspace) -> None:
    with pytest.raises(IntegrityError), services.sessions.begin() as session:
        session.add_all(
            [LinkSettings(workspace_id=workspace.id, utm={}), LinkSettings(workspace_id=workspace.id, utm={})]
        )


def test_a_template_with_an_unknown_placeholder_is_refused_and_nothing_is_saved(
    services: Services, workspace: Workspace, actor: Actor
) -> None:
    with pytest.raises(InvalidInput) as refused:
        save(services, actor, None, shorten=True, utm={"utm_campaign": "{campaign}"})

    assert [problem.pointer for problem in refused.value.problems] == ["/utm/utm_campaign"]
    assert rules_for(services, workspace, None).source is RulesSource.NONE


def test_another_workspaces_channel_cannot_be_given_settings(services: Services, channel: Channel) -> None:
    stranger = Actor.system(make_workspace(services, "Strangers")[0].id)

    with pytest.raises(NotFound):
        save(services, stranger, channel.id, shorten=True, utm={})


def test_saving_and_removing_are_in_the_audit_log(
    services: Services, workspace: Workspace, channel: Channel, actor: Actor
) -> None:
    save(services, actor, None, shorten=True, utm={"utm_source": "crier"})
    save(services, actor, channel.id, shorten=False, utm={})
    with services.sessions.begin() as session:
        remove_channel_link_settings(session, actor, channel.id)

    with services.sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.action)).all()
    assert [(entry.action, entry.subject_type, entry.subject_id) for entry in entries] == [
        ("link_settings.saved", "workspace", workspace.id),
        ("link_settings.saved", "channel", channel.id),
        ("link_settings.removed", "channel", channel.id),
    ]
    assert entries[0].detail == {"shorten": True, "utm": {"utm_source": "crier"}}
