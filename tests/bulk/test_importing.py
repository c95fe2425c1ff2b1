"""Imports: names and ids, times and queues, per-network texts; every problem at once, or nothing."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from shared.bootstrap import Services
from shared.bulk.checking import InvalidRows, check_import
from shared.bulk.reading import SourceFormat, read_source
from shared.channels.models import Channel, ChannelState
from shared.channels.slots import PostingSchedule, next_free_slots
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.errors import Forbidden, Problem
from shared.posts.models import Post, PostStage, Timing
from shared.workspaces.access import Actor, Role
from shared.workspaces.models import Workspace
from tests.bulk.factories import EVERY_HOUR, actor_as, add_channel, run_import
from tests.factories import make_post
from tests.media.samples import image, upload

# Tomorrow at 10:30 UTC: ahead of the real clock, so posts the factories make "now" are not in its past.
NOW = (utcnow() + timedelta(days=1)).replace(hour=10, minute=30, second=0, microsecond=0)
TOMORROW_AT_9 = NOW.replace(hour=9) + timedelta(days=1)
TOMORROW = TOMORROW_AT_9.isoformat()
IN_A_WEEK = (NOW + timedelta(days=7)).date().isoformat()


def posts_of(services: Services, post_ids: list[str]) -> list[Post]:
    with services.sessions.begin() as session:
        return [session.get_one(Post, uuid.UUID(post_id)) for post_id in post_ids]


def count_posts(services: Services) -> int:
    with services.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(Post)) or 0


def refused(services: Services, actor: Actor, text: str) -> list[Problem]:
    with pytest.raises(InvalidRows) as invalid:
        run_import(services, actor, text, now=NOW)
    return invalid.value.problems


@pytest.fixture
def sandbox(services: Services, workspace: Workspace) -> Channel:
    return add_channel(services, workspace, "Sandbox", posting_schedule=EVERY_HOUR)


@pytest.fixture
def mastodon(services: Services, workspace: Workspace) -> Channel:
    return add_channel(services, workspace, "Mastodon", "mastodon", posting_schedule=EVERY_HOUR)


def test_each_row_becomes_a_post_in_the_files_order(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    imported = run_import(
        services, owner, f"text,channels,time\nFirst,Sandbox,{TOMORROW}\nSecond,Sandbox,now\n", now=NOW
    )

    first, second = posts_of(services, imported.post_ids)
    assert imported.row_count == 2
    assert (first.text, second.text) == ("First", "Second")
    assert first.scheduled_at == TOMORROW_AT_9
    assert second.scheduled_at == NOW
    assert [delivery.channel_id for delivery in first.deliveries] == [sandbox.id]
    assert first.stage is PostStage.SCHEDULED
    assert first.created_at < second.created_at  # newest-first listings keep the file's order


def test_channels_are_found_by_name_in_any_case_or_by_id(
    services: Services, owner: Actor, sandbox: Channel, mastodon: Channel
) -> None:
    imported = run_import(
        services, owner, f'text,channels,time\nHello,"  sANDbox ; {mastodon.id}",{TOMORROW}\n', now=NOW
    )

    [post] = posts_of(services, imported.post_ids)
    assert [target.channel_id for target in post.targets] == [sandbox.id, mastodon.id]


def test_a_name_two_channels_share_is_refused_with_their_ids(
    services: Services, workspace: Workspace, owner: Actor, sandbox: Channel
) -> None:
    twin = add_channel(services, workspace, "SANDBOX")

    [problem] = refused(services, owner, f"text,channels,time\nHello,Sandbox,{TOMORROW}\n")

    assert problem.pointer == "/rows/2/channels"
    assert str(sandbox.id) in problem.detail
    assert str(twin.id) in problem.detail


def test_a_disconnected_channel_leaves_its_name_to_the_channel_in_use(
    services: Services, workspace: Workspace, owner: Actor, sandbox: Channel
) -> None:
    add_channel(services, workspace, "Sandbox", state=ChannelState.DISCONNECTED)

    imported = run_import(services, owner, f"text,channels,time\nHello,Sandbox,{TOMORROW}\n", now=NOW)

    [post] = posts_of(services, imported.post_ids)
    assert [target.channel_id for target in post.targets] == [sandbox.id]


def test_an_unknown_channel_name_suggests_the_closest_and_lists_them_all(
    services: Services, owner: Actor, sandbox: Channel, mastodon: Channel
) -> None:
    [problem] = refused(services, owner, f"text,channels,time\nHello,Sandbx,{TOMORROW}\n")

    assert problem == Problem(
        "/rows/2/channels",
        "There is no channel named “Sandbx” (did you mean “Sandbox”?). The channels are: Mastodon, Sandbox.",
    )


def test_a_per_network_text_goes_to_every_channel_of_that_network_in_the_row(
    services: Services, workspace: Workspace, owner: Actor, sandbox: Channel, mastodon: Channel
) -> None:
    second_mastodon = add_channel(services, workspace, "Mastodon 2", "mastodon")
    text = (
        "text,channels,time,text:mastodon\n"
        f"Hello,Sandbox|Mastodon|Mastodon 2,{TOMORROW},Hello fediverse #crier\n"
        f"Plain,Mastodon,{TOMORROW},\n"
    )

    imported = run_import(services, owner, text, now=NOW)

    varied, plain = posts_of(services, imported.post_ids)
    assert [(target.channel_id, target.text) for target in varied.targets] == [
        (sandbox.id, None),
        (mastodon.id, "Hello fediverse #crier"),
        (second_mastodon.id, "Hello fediverse #crier"),
    ]
    assert [target.text for target in plain.targets] == [None]


def test_a_per_network_text_for_a_row_without_that_network_is_refused(
    services: Services, owner: Actor, sandbox: Channel, mastodon: Channel
) -> None:
    [problem] = refused(services, owner, f"text,channels,time,text:mastodon\nHi,Sandbox,{TOMORROW},Toot\n")

    assert problem == Problem(
        "/rows/2/text:mastodon", "No channel of this row is on mastodon: this text would not be sent."
    )


def test_a_wall_time_is_read_in_the_rows_timezone_and_an_offset_wins_over_it(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    text = (
        "text,channels,time,timezone\n"
        f"Wall,Sandbox,{IN_A_WEEK}T09:00,Asia/Tokyo\n"
        f"Offset,Sandbox,{IN_A_WEEK}T09:00-05:00,Asia/Tokyo\n"
        f"Default,Sandbox,{IN_A_WEEK} 09:00,\n"
    )

    imported = run_import(services, owner, text, now=NOW)

    wall, offset, default = posts_of(services, imported.post_ids)
    nine = datetime.fromisoformat(f"{IN_A_WEEK}T09:00+00:00")
    assert wall.scheduled_at == nine - timedelta(hours=9)  # Tokyo keeps UTC+9 all year
    assert wall.timezone == "Asia/Tokyo"
    assert offset.scheduled_at == nine + timedelta(hours=5)
    assert default.scheduled_at == nine
    assert default.timezone == "UTC"


def test_queued_rows_take_each_channels_next_free_slots_around_fixed_times(
    services: Services, workspace: Workspace, owner: Actor, sandbox: Channel
) -> None:
    make_post(services, workspace, [sandbox], scheduled_at=NOW.replace(hour=11, minute=0))
    fixed_at = NOW.replace(hour=13, minute=0)
    text = f"text,channels,time\nOne,Sandbox,queue\nTwo,Sandbox,QUEUE\nFixed,Sandbox,{fixed_at.isoformat()}\n"

    imported = run_import(services, owner, text, now=NOW)

    one, two, fixed = posts_of(services, imported.post_ids)
    assert (one.timing, two.timing) == (Timing.QUEUE, Timing.QUEUE)
    # 11:00 holds an existing post and 13:00 this file's fixed one: the queue takes 12:00, then 14:00.
    assert [delivery.scheduled_at.hour for delivery in one.deliveries + two.deliveries] == [12, 14]
    assert one.scheduled_at == NOW.replace(hour=12, minute=0)
    assert fixed.scheduled_at == fixed_at


def test_a_queue_with_more_rows_than_free_slots_names_the_rows_left_over(
    services: Services, workspace: Workspace, owner: Actor
) -> None:
    weekly = {"mon": ["09:00"]}
    add_channel(services, workspace, "Weekly", posting_schedule=weekly)
    free = len(
        next_free_slots(PostingSchedule.from_document(weekly), ZoneInfo("UTC"), after=NOW, taken=[], count=60)
    )
    rows = "".join(f"Post {number},Weekly,queue\n" for number in range(free + 2))

    problems = refused(services, owner, f"text,channels,time\n{rows}")

    # The first post is row 2, so the post after the last free slot is row free + 2.
    assert [problem.pointer for problem in problems] == [f"/rows/{free + 2}/time", f"/rows/{free + 3}/time"]
    assert problems[0].detail == (
        f"Weekly has no free posting slot in the coming year for this post ({free} free, "
        f"{free + 2} queued by this file)."
    )


def test_a_draft_may_have_no_time_and_others_must_say_now_or_queue(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    imported = run_import(services, owner, "text,channels,time,draft\nLater,Sandbox,,yes\n", now=NOW)

    [draft] = posts_of(services, imported.post_ids)
    assert draft.stage is PostStage.DRAFT
    assert draft.scheduled_at is None
    assert draft.deliveries == []
    [problem] = refused(services, owner, "text,channels,time,draft\nNow?,Sandbox,,false\n")
    assert problem.pointer == "/rows/2/time"


def test_a_recurrence_repeats_from_the_rows_time(services: Services, owner: Actor, mastodon: Channel) -> None:
    text = f"text,channels,time,recurrence\nWeekly tip,Mastodon,{TOMORROW},RRULE:FREQ=WEEKLY;COUNT=4\n"

    imported = run_import(services, owner, text, now=NOW)

    [post] = posts_of(services, imported.post_ids)
    assert post.timing is Timing.RECURRENCE
    assert post.recurrence_rule == "FREQ=WEEKLY;COUNT=4"
    assert post.next_occurrence_at == TOMORROW_AT_9


def test_threads_labels_and_lists_read_from_csv_cells_and_from_json_lists(
    services: Services, owner: Actor, mastodon: Channel
) -> None:
    csv_text = (
        "text,channels,time,labels,thread\n"
        f'Hello,Mastodon,{TOMORROW},"spring; meetup|spring","First reply\n\nSecond reply\nstill second"\n'
    )
    posts = [
        {
            "text": "Hello",
            "channels": ["Mastodon"],
            "time": TOMORROW,
            "labels": ["spring", "meetup"],
            "thread": ["First reply", "Second reply\nstill second"],
            "draft": False,
        }
    ]

    from_csv = posts_of(services, run_import(services, owner, csv_text, now=NOW).post_ids)[0]
    from_json = posts_of(
        services, run_import(services, owner, json.dumps(posts), SourceFormat.JSON, now=NOW).post_ids
    )[0]

    for post in (from_csv, from_json):
        assert post.thread == ["First reply", "Second reply\nstill second"]
        assert post.label_names == ["meetup", "spring"]


def test_every_problem_of_every_row_is_reported_at_once_with_its_row_and_column(
    services: Services, workspace: Workspace, owner: Actor, sandbox: Channel
) -> None:
    add_channel(services, workspace, "Bluesky", "bluesky")
    long = "x" * 501
    text = (
        "text,channels,time,timezone,labels,draft,media,text:bluesky\n"
        f"Fine,Sandbox,{TOMORROW},,,,,\n"  # row 2
        f"Lost,Nowhere,{TOMORROW},,,,,\n"  # row 3
        "Bad time,Sandbox,next tuesday,,,,,\n"  # row 4
        f"Bad zone,Sandbox,{IN_A_WEEK}T09:00,Mars/Olympus,,,,\n"  # row 5
        f"{long},Sandbox,{TOMORROW},,,,,\n"  # row 6
        f"Labels,Sandbox,{TOMORROW},,{'|'.join(f'l{number}' for number in range(21))},,,\n"  # row 7
        f"Media,Sandbox,{TOMORROW},,,,photo.jpg,\n"  # row 8
        f"Past,Sandbox,{(NOW - timedelta(days=1)).isoformat()},,,,,\n"  # row 9
        f"Draft?,Sandbox,{TOMORROW},,,maybe,,\n"  # row 10
        f"Variant,Sandbox|Bluesky,{TOMORROW},,,,,{'y' * 301}\n"  # row 11
        f",,{TOMORROW},,,,,\n"  # row 12
    )

    problems = refused(services, owner, text)

    assert [problem.pointer for problem in problems] == [
        "/rows/3/channels",
        "/rows/4/time",
        "/rows/5/timezone",
        "/rows/6/text",
        "/rows/7/labels",
        "/rows/8/media",
        "/rows/9/time",
        "/rows/10/draft",
        "/rows/11/text:bluesky",
        "/rows/12/text",
        "/rows/12/channels",
    ]
    details = {problem.pointer: problem.detail for problem in problems}
    assert (
        details["/rows/5/timezone"] == "'Mars/Olympus' is not an IANA time zone name such as 'Europe/Paris'."
    )
    assert details["/rows/6/text"].startswith("Sandbox (sandbox): the text is 501 characters")
    assert details["/rows/11/text:bluesky"].startswith("Bluesky (bluesky): ")
    assert count_posts(services) == 0


def test_the_problem_documents_detail_counts_the_problems_and_rows(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    with pytest.raises(InvalidRows) as invalid:
        run_import(
            services, owner, "text,channels,time\n,Sandbox,now\nOk,Nowhere,\nFine,Sandbox,now\n", now=NOW
        )

    assert invalid.value.detail == (
        "Nothing was imported: 3 problems in 2 rows of 3. Each error names its row and column."
    )


def test_a_time_in_the_past_is_said_in_the_time_columns_words_not_the_apis(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    yesterday = (NOW - timedelta(days=1)).isoformat()
    text = (
        "text,channels,time,recurrence\n"
        f"Once,Sandbox,{yesterday},\n"
        f"Daily,Sandbox,{yesterday},FREQ=DAILY;COUNT=3\n"
    )

    problems = refused(services, owner, text)

    assert [(problem.pointer, problem.detail) for problem in problems] == [
        ("/rows/2/time", "The time is in the past: give a later one, or now to publish at once."),
        ("/rows/3/time", "The time is in the past: give a later one."),
    ]


def test_a_time_that_cannot_be_read_is_shown_an_example_ahead_of_now(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    [problem] = refused(services, owner, "text,channels,time\nHi,Sandbox,tomorrow\n")

    example = f"{NOW.year + 1}-05-01T09:00"
    assert problem.detail == (
        f"“tomorrow” is not a time: write {example} (read in the row's timezone), {example}+02:00, "
        "now, or queue."
    )


def test_one_problem_in_one_row_is_counted_in_the_singular(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    with pytest.raises(InvalidRows) as invalid:
        run_import(services, owner, "text,channels,time\n,Sandbox,now\nFine,Sandbox,now\n", now=NOW)

    assert invalid.value.detail == (
        "Nothing was imported: 1 problem in 1 row of 2. Each error names its row and column."
    )


def test_an_unknown_column_is_refused_once_at_the_header_with_a_suggestion(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    problems = refused(services, owner, "text,channels,tiem,text:myspace\nHi,Sandbox,now,\n")

    assert [problem.pointer for problem in problems] == ["/rows/1/tiem", "/rows/1/text:myspace"]
    assert "(did you mean “time”?)" in problems[0].detail
    assert problems[1].detail.startswith("No network named “myspace” is installed; installed: ")


def test_a_header_without_the_channels_column_is_refused_once(services: Services, owner: Actor) -> None:
    problems = refused(services, owner, "text,time\nOne,now\nTwo,now\n")

    assert problems == [Problem("/rows/1", "The header row has no “channels” column.")]


def test_the_exports_own_columns_are_passed_over(services: Services, owner: Actor, sandbox: Channel) -> None:
    imported = run_import(
        services,
        owner,
        f"id,text,channels,time,state\n{uuid.uuid4()},Hi,Sandbox,{TOMORROW},published\n",
        now=NOW,
    )

    assert imported.row_count == 1


def test_a_problem_in_row_4999_of_5000_stores_nothing(
    services: Services, owner: Actor, sandbox: Channel
) -> None:
    rows = [f"Post {number},Sandbox,{TOMORROW}" for number in range(5000)]
    rows[4997] = "Post 4999,Nowhere,now"  # the 4,998th post: row 4,999 under the header

    problems = refused(services, owner, "text,channels,time\n" + "\n".join(rows) + "\n")

    assert [problem.pointer for problem in problems] == ["/rows/4999/channels"]
    assert count_posts(services) == 0
    with services.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_5000_rows_are_imported_in_one_go(services: Services, owner: Actor, sandbox: Channel) -> None:
    rows = "".join(f"Post {number},Sandbox,queue\n" for number in range(5000))

    imported = run_import(services, owner, "text,channels,time\n" + rows, now=NOW)

    assert imported.row_count == len(imported.post_ids) == count_posts(services) == 5000
    with services.sessions.begin() as session:
        slots = session.scalars(select(Delivery.scheduled_at).order_by(Delivery.scheduled_at)).all()
    assert len(set(slots)) == 5000  # each queued post its own hourly slot
    assert slots[0] == NOW.replace(hour=11, minute=0)


def test_a_contributors_rows_wait_for_approval(
    services: Services, workspace: Workspace, sandbox: Channel
) -> None:
    contributor = actor_as(services, workspace, Role.CONTRIBUTOR)

    imported = run_import(services, contributor, f"text,channels,time\nPlease,Sandbox,{TOMORROW}\n", now=NOW)

    [post] = posts_of(services, imported.post_ids)
    assert post.stage is PostStage.PENDING_APPROVAL
    assert post.deliveries == []


def test_a_viewer_may_not_import(services: Services, workspace: Workspace, sandbox: Channel) -> None:
    viewer = actor_as(services, workspace, Role.VIEWER)

    with pytest.raises(Forbidden):
        run_import(services, viewer, f"text,channels,time\nHi,Sandbox,{TOMORROW}\n", now=NOW)


def test_checking_alone_stores_nothing(services: Services, owner: Actor, sandbox: Channel) -> None:
    with services.sessions.begin() as session:
        plan = check_import(
            session,
            services.networks,
            owner,
            read_source(f"text,channels,time\nHi,Sandbox,{TOMORROW}\n".encode(), SourceFormat.CSV),
            now=utcnow() - timedelta(seconds=1),
        )

    assert [post.row for post in plan.posts] == [2]
    assert count_posts(services) == 0


def test_a_cell_that_cannot_be_read_is_reported_once_not_again_for_what_follows_from_it(
    services: Services, owner: Actor, sandbox: Channel, mastodon: Channel
) -> None:
    text = (
        "text,channels,time,recurrence,text:mastodon\n"
        "Typo,Sandbox|Mastodn,now,,Toot\n"  # the Mastodon text is not "for no channel": a name is wrong
        "Soon,Sandbox,tomorrow-ish,FREQ=DAILY;COUNT=2,\n"  # no first time: the time is what to fix
    )

    problems = refused(services, owner, text)

    assert [problem.pointer for problem in problems] == ["/rows/2/channels", "/rows/3/time"]


def test_media_from_the_library_are_attached_in_order_and_an_unknown_one_is_refused(
    services: Services, workspace: Workspace, owner: Actor, mastodon: Channel
) -> None:
    first, second = (upload(services, workspace, image(size=(n + 1, 1))) for n in range(2))
    text = f"text,channels,time,media\nTwo pictures,Mastodon,{TOMORROW},{second.id}|{first.id}\n"

    [post] = posts_of(services, run_import(services, owner, text, now=NOW).post_ids)
    problems = refused(
        services, owner, f"text,channels,time,media\nNope,Mastodon,{TOMORROW},{uuid.uuid4()}\n"
    )

    assert post.media == [str(second.id), str(first.id)]
    assert [problem.pointer for problem in problems] == ["/rows/2/media"]
