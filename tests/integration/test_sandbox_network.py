"""The sandbox network: its engagement curve, its channel options, its text rules and its failure modes."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.db import create_db_engine
from shared.networks.ports import Account, Draft, Engagement, MediaItem, OutcomeUnknown, Transient
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.networks.sandbox.behaviour import SandboxOptions, engagement_at
from shared.networks.sandbox.store import SandboxStore
from tests.integration.fake_networks import ScriptedRandom

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man, woman, girl, boy: one grapheme
COUNTS = ("likes", "reposts", "replies", "quotes", "views")
ages = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)


def counts(engagement: Engagement) -> tuple[int, ...]:
    values = tuple(getattr(engagement, count) for count in COUNTS)
    assert all(isinstance(value, int) for value in values), (
        f"the sandbox always reports every count: {values}"
    )
    return values


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SandboxStore]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'sandbox.db'}")
    yield SandboxStore(engine)
    engine.dispose()


@pytest.fixture
def sandbox(store: SandboxStore) -> SandboxNetwork:
    return SandboxNetwork(store, rng=random.Random(7))


def account(**options: Any) -> Account:
    return Account(
        channel_id="b7c6a0f4-5d4e-4a43-9d55-0a4f0c1d2e3f", handle="riverside_library", settings=options
    )


@given(post_id=st.text(max_size=40))
def test_a_new_post_has_no_engagement_yet(post_id: str) -> None:
    assert counts(engagement_at(post_id, 0)) == (0, 0, 0, 0, 0)


@given(post_id=st.text(max_size=40), younger=ages, older=ages)
def test_engagement_never_falls_as_a_post_ages(post_id: str, younger: float, older: float) -> None:
    younger, older = sorted((younger, older))
    earlier, later = counts(engagement_at(post_id, younger)), counts(engagement_at(post_id, older))
    assert all(a <= b for a, b in zip(earlier, later, strict=True)), (earlier, later)


def test_engagement_grows_then_levels_off() -> None:
    # The control for the property above: the curve is not flat.
    likes = [engagement_at("a1b2", age).likes or 0 for age in (0, 60, 600, 6000, 60000)]
    assert likes[0] == 0
    assert likes == sorted(likes)
    assert len(set(likes)) == len(likes)
    # A minute in, half the final count; the last fifty thousand seconds add almost nothing.
    assert likes[-1] - likes[-2] < (likes[1] - likes[0]) / 10


def test_valid_options_parse_without_problems() -> None:
    options, problems = SandboxOptions.parse(
        {
            "latency_ms": 250,
            "failure_rate": 0.1,
            "stored_then_timeout_rate": 1,
            "honours_idempotency_key": False,
        }
    )
    assert problems == []
    assert options == SandboxOptions(
        latency_ms=250.0, failure_rate=0.1, stored_then_timeout_rate=1.0, honours_idempotency_key=False
    )
    assert SandboxOptions.parse({}) == (SandboxOptions(), [])


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"colour": "blue"}, "unknown option 'colour'"),
        ({"latency_ms": -1}, "latency_ms must be between 0 and 60,000"),
        ({"latency_ms": 60_001}, "latency_ms must be between 0 and 60,000"),
        ({"latency_ms": 10**400}, "latency_ms must be between 0 and 60,000"),
        ({"failure_rate": -0.01}, "failure_rate must be between 0 and 1"),
        ({"failure_rate": 1.01}, "failure_rate must be between 0 and 1"),
        ({"stored_then_timeout_rate": 2}, "stored_then_timeout_rate must be between 0 and 1"),
        ({"failure_rate": "0.5"}, "failure_rate must be a finite number"),
        ({"latency_ms": None}, "latency_ms must be a finite number"),
        ({"stored_then_timeout_rate": True}, "stored_then_timeout_rate must be a finite number"),
        ({"honours_idempotency_key": "yes"}, "honours_idempotency_key must be true or false"),
        ({"honours_idempotency_key": 1}, "honours_idempotency_key must be true or false"),
    ],
)
def test_options_parse_names_each_problem(settings: dict[str, Any], problem: str) -> None:
    options, problems = SandboxOptions.parse(settings)
    assert problems == [problem]
    assert options == SandboxOptions()  # a bad value never takes effect


def test_options_parse_reports_every_problem_at_once() -> None:
    _, problems = SandboxOptions.parse({"latency_ms": -5, "failure_rate": "high", "volume": 11})
    assert sorted(problems) == [
        "failure_rate must be a finite number",
        "latency_ms must be between 0 and 60,000",
        "unknown option 'volume'",
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["NaN", "infinity"])
def test_options_parse_rejects_numbers_that_are_not_finite(value: float) -> None:
    _, problems = SandboxOptions.parse({"latency_ms": value, "failure_rate": value})
    assert problems == ["latency_ms must be a finite number", "failure_rate must be a finite number"]


def test_validate_counts_grapheme_clusters_not_code_points(sandbox: SandboxNetwork) -> None:
    assert len(FAMILY) == 7  # a code-point count would refuse 500 of them
    assert sandbox.validate(Draft(text=FAMILY * 500)) == []
    assert sandbox.validate(Draft(text=FAMILY * 501)) == [
        "the text is 501 characters (grapheme clusters) long; the sandbox allows 500"
    ]
    assert sandbox.validate(Draft(text="e\u0301" * 500)) == []  # e + combining acute accent


@pytest.mark.parametrize("text", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
def test_validate_rejects_text_with_nothing_to_read(sandbox: SandboxNetwork, text: str) -> None:
    assert sandbox.validate(Draft(text=text)) == ["the text is empty"]


def test_a_repeated_idempotency_key_returns_the_first_post(
    sandbox: SandboxNetwork, store: SandboxStore
) -> None:
    first = sandbox.publish(account(), Draft(text="Story time at ten."), "delivery-1")
    again = sandbox.publish(account(), Draft(text="Story time at ten."), "delivery-1")

    assert again == first
    assert first.url == f"https://sandbox.invalid/@riverside_library/{first.external_id}"
    assert store.count_by_key() == {"delivery-1": 1}


def test_a_sandbox_that_ignores_idempotency_keys_stores_every_publish(
    sandbox: SandboxNetwork, store: SandboxStore
) -> None:
    careless = account(honours_idempotency_key=False)

    first = sandbox.publish(careless, Draft(text="Story time at ten."), "delivery-1")
    second = sandbox.publish(careless, Draft(text="Story time at ten."), "delivery-1")

    assert first.external_id != second.external_id
    assert store.count_by_key() == {"delivery-1": 2}  # the duplicate a chaos test looks for


def test_a_failure_rate_of_one_refuses_every_publish_before_storing(
    sandbox: SandboxNetwork, store: SandboxStore
) -> None:
    for attempt in range(3):
        with pytest.raises(Transient, match="503 Service Unavailable"):
            sandbox.publish(
                account(failure_rate=1.0), Draft(text="Closed for the holiday."), f"delivery-{attempt}"
            )
    assert store.count_by_key() == {}


def test_a_stored_then_timeout_rate_of_one_stores_the_post_and_then_times_out(
    sandbox: SandboxNetwork, store: SandboxStore
) -> None:
    flaky = account(stored_then_timeout_rate=1.0)

    with pytest.raises(OutcomeUnknown, match="read timed out after the post was stored"):
        sandbox.publish(flaky, Draft(text="New hours from Monday."), "delivery-1")

    found = sandbox.find_published(flaky, "delivery-1")
    assert found is not None
    assert store.get_many([found.external_id])[found.external_id]["text"] == "New hours from Monday."
    assert sandbox.find_published(flaky, "delivery-2") is None


def test_engagement_is_read_from_the_store_and_a_missing_post_is_gone(sandbox: SandboxNetwork) -> None:
    published = sandbox.publish(account(), Draft(text="Book sale this weekend."), "delivery-1")

    readings = sandbox.fetch_engagement(account(), [published.external_id, "no-such-post"])

    reading = readings[published.external_id]
    assert isinstance(reading, Engagement)
    assert reading.raw["id"] == published.external_id
    assert str(readings["no-such-post"]) == "sandbox: no post no-such-post"


def test_a_thread_is_stored_as_replies_each_answering_the_one_before(
    sandbox: SandboxNetwork, store: SandboxStore
) -> None:
    published = sandbox.publish(account(), Draft(text="1/3", thread=("2/3", "3/3")), "delivery-1")

    rows = [store.find_by_key(key) for key in ("delivery-1", "delivery-1:1", "delivery-1:2")]
    assert [row["text"] for row in rows if row] == ["1/3", "2/3", "3/3"]
    assert [row["in_reply_to_id"] for row in rows if row] == [None, rows[0]["id"], rows[1]["id"]]  # type: ignore[index]
    assert [part.external_id for part in published.parts] == [row["id"] for row in rows if row]
    assert all(part.created_at is not None for part in published.parts)


def test_a_thread_found_in_part_comes_back_in_part_and_is_finished_from_its_last_part(
    store: SandboxStore,
) -> None:
    # The post is stored; the first reply's answer is lost after it was stored; the second is never sent.
    sandbox = SandboxNetwork(store, rng=ScriptedRandom([0.9, 0.9, 0.9, 0.0]))
    draft = Draft(text="1/3", thread=("2/3", "3/3"))
    with pytest.raises(OutcomeUnknown) as raised:
        sandbox.publish(account(stored_then_timeout_rate=0.5), draft, "delivery-1")
    assert len(raised.value.published) == 1

    found = sandbox.find_published(account(), "delivery-1", draft=draft)

    assert found is not None
    assert len(found.parts) == 2
    finished = sandbox.publish(account(), draft, "delivery-1", published=found.parts)
    assert finished.parts[:2] == found.parts
    assert store.count_by_key() == {"delivery-1": 1, "delivery-1:1": 1, "delivery-1:2": 1}


def test_images_are_kept_with_their_alt_text_type_size_and_digest(
    sandbox: SandboxNetwork, store: SandboxStore
) -> None:
    picture = MediaItem("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, alt_text="A reading room")
    sandbox.publish(account(), Draft(text="Our new reading room", media=(picture,)), "delivery-1")

    row = store.find_by_key("delivery-1")

    assert row is not None
    assert row["media"] == [
        {
            "content_type": "image/png",
            "bytes": 40,
            "sha256": hashlib.sha256(picture.data).hexdigest(),
            "alt_text": "A reading room",
        }
    ]


def test_media_the_sandbox_would_not_take_is_named(sandbox: SandboxNetwork) -> None:
    video = MediaItem("video/mp4", b"\0\0\0\x18ftypmp42")
    picture = MediaItem("image/png", b"\x89PNG")
    assert sandbox.validate(Draft(text="Both", media=(video, picture))) == [
        "a video/mp4 attachment must be the only one on the sandbox"
    ]
    assert sandbox.validate(Draft(text="Five", media=(picture,) * 5)) == [
        "5 attachments; the sandbox takes at most 4"
    ]


def test_a_store_made_before_threads_and_media_gains_their_columns_and_keeps_its_posts(
    tmp_path: Path,
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE sandbox_posts (id VARCHAR(32) PRIMARY KEY, handle VARCHAR(200) NOT NULL, "
            "text TEXT NOT NULL, idempotency_key VARCHAR(200) NOT NULL, created_at DATETIME NOT NULL)"
        )
        connection.exec_driver_sql(
            "INSERT INTO sandbox_posts VALUES ('old1', 'me', 'Before', 'delivery-0', '2026-11-01 09:00:00')"
        )
    sandbox = SandboxNetwork(SandboxStore(engine))

    sandbox.publish(account(), Draft(text="1/2", thread=("2/2",)), "delivery-1")

    assert sandbox.store.count_by_key() == {"delivery-0": 1, "delivery-1": 1, "delivery-1:1": 1}
    engine.dispose()
