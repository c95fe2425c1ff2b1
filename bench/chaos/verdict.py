"""What the networks stored, compared part by part with what Crier says it published."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select, text

from shared.networks.sandbox.store import SandboxStore, sandbox_posts
from tests.networks.mastodon.fake import FakeMastodon

# States are strings here, not DeliveryState members: the run must work while the state machine grows.
FINAL_STATES = ("published", "failed", "needs_review", "cancelled", "missed")
NON_FINAL_STATES = ("scheduled", "retry_wait", "enqueued", "publishing", "unknown")
# A stored post is accounted for only by a delivery that says it may be out there.
STATES_THAT_OWN_A_POST = frozenset({"published", "needs_review"})
SHOWN_PER_PROBLEM = 10


@dataclass(frozen=True)
class StoredPart:
    """One post a network stored: its id there, the idempotency key it was made under, what it answers."""

    network: str
    post_id: str
    key: str | None
    in_reply_to: str | None


def sandbox_parts(store: SandboxStore) -> list[StoredPart]:
    query = select(sandbox_posts.c.id, sandbox_posts.c.idempotency_key, sandbox_posts.c.in_reply_to_id)
    with store.engine.connect() as connection:
        return [
            StoredPart("sandbox", row.id, row.idempotency_key, row.in_reply_to_id)
            for row in connection.execute(query)
        ]


def mastodon_parts(server: FakeMastodon) -> list[StoredPart]:
    return [
        StoredPart("mastodon", status["id"], status["idempotency_key"], status["in_reply_to_id"])
        for status in server.all_statuses()
    ]


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery as Crier's database has it at the end."""

    id: str
    state: str
    network: str
    replies: int
    # The parts Crier recorded, by position: the post, then each reply.
    recorded: tuple[str, ...]

    @property
    def keys(self) -> list[str]:
        """The key each part is stored under: the delivery's id for the post, `<id>:<n>` for reply n."""
        return [self.id, *(f"{self.id}:{n}" for n in range(1, self.replies + 1))]


def read_deliveries(engine: Engine) -> dict[str, DeliveryRecord]:
    with engine.connect() as connection:
        recorded: defaultdict[str, list[str]] = defaultdict(list)
        for row in connection.execute(
            text("SELECT delivery_id, external_id FROM delivery_parts ORDER BY delivery_id, position")
        ):
            recorded[_uuid_text(row.delivery_id)].append(row.external_id)
        rows = connection.execute(
            text(
                "SELECT d.id, d.state, c.network, p.thread "
                "FROM deliveries d JOIN posts p ON p.id = d.post_id JOIN channels c ON c.id = d.channel_id"
            )
        )
        return {
            _uuid_text(row.id): DeliveryRecord(
                _uuid_text(row.id),
                row.state,
                row.network,
                _length(row.thread),
                tuple(recorded[_uuid_text(row.id)]),
            )
            for row in rows
        }


def _length(thread: str | list[str]) -> int:
    """How many replies a post's thread holds: PostgreSQL hands over the JSON parsed, SQLite as text."""
    return len(json.loads(thread) if isinstance(thread, str) else thread)


def _uuid_text(value: object) -> str:
    """A delivery id as the networks have it (idempotency keys): PostgreSQL's UUID, or SQLite's 32 hex
    digits, both written with dashes."""
    return str(uuid.UUID(str(value)))


@dataclass
class Verdict:
    deliveries: int
    # Every part of every published delivery: the posts and thread replies that had to be there once.
    parts: int
    states: Counter[str]
    duplicates: int
    lost: int
    mismatches: int
    report: list[str]

    @property
    def passed(self) -> bool:
        return self.duplicates == 0 and self.lost == 0 and self.mismatches == 0


def _shown(items: Sequence[str]) -> str:
    more = f" … and {len(items) - SHOWN_PER_PROBLEM} more" if len(items) > SHOWN_PER_PROBLEM else ""
    return ", ".join(items[:SHOWN_PER_PROBLEM]) + more


def verify(deliveries: dict[str, DeliveryRecord], stored: Sequence[StoredPart]) -> Verdict:
    """Every part of every published delivery stored exactly once, on its network, chained to the part
    before, and recorded by Crier; every delivery final; no stored part that Crier does not account for."""
    under: defaultdict[str, list[StoredPart]] = defaultdict(list)
    for part in stored:
        under[part.key or ""].append(part)
    states = Counter(delivery.state for delivery in deliveries.values())
    published = [delivery for delivery in deliveries.values() if delivery.state == "published"]
    report: list[str] = []

    def owner(key: str) -> str:
        delivery = deliveries.get(key.split(":")[0])
        return delivery.state if delivery else "no such delivery"

    duplicated = sorted(key for key, parts in under.items() if len(parts) > 1)
    duplicates = sum(len(under[key]) - 1 for key in duplicated)
    if duplicated:
        report.append(
            f"DUPLICATES: {len(duplicated)} parts stored more than once: "
            + _shown([f"{key} x{len(under[key])} ({owner(key)})" for key in duplicated])
        )

    stuck = sorted((d.state, d.id) for d in deliveries.values() if d.state not in FINAL_STATES)
    for state in sorted({state for state, _ in stuck}):
        ids = [delivery_id for s, delivery_id in stuck if s == state]
        report.append(f"LOST: {len(ids)} deliveries still {state}: {_shown(ids)}")
    incomplete = {
        delivery.id: missing
        for delivery in published
        if (
            missing := [
                key
                for key in delivery.keys
                if not any(part.network == delivery.network for part in under.get(key, ()))
            ]
        )
    }
    if incomplete:
        report.append(
            f"LOST: {len(incomplete)} published deliveries with parts missing from their network: "
            + _shown(
                [f"{delivery_id} ({', '.join(keys)})" for delivery_id, keys in sorted(incomplete.items())]
            )
        )

    unaccounted = sorted(
        f"{part.network} post {part.post_id} under {part.key} ({owner(part.key or '')})"
        for part in stored
        if not _accounts_for(deliveries.get((part.key or "").split(":")[0]), part)
    )
    misrecorded = []
    unchained = []
    for delivery in published:
        found = [under.get(key, []) for key in delivery.keys]
        if any(len(parts) != 1 for parts in found):
            continue  # counted above
        ids = [parts[0].post_id for parts in found]
        if delivery.recorded != tuple(ids):
            misrecorded.append(f"{delivery.id} records {list(delivery.recorded)}, stored {ids}")
        answers = [parts[0].in_reply_to for parts in found]
        if answers != [None, *ids[:-1]]:
            unchained.append(f"{delivery.id}: its parts answer {answers}, made as {ids}")
    for label, problems in (
        (
            "stored posts whose delivery is neither published nor needs_review, or on another network",
            unaccounted,
        ),
        ("published deliveries whose recorded parts are not the ones stored", misrecorded),
        ("published threads whose replies do not answer the part before", unchained),
    ):
        if problems:
            report.append(f"MISMATCH: {len(problems)} {label}: {_shown(problems)}")
    return Verdict(
        deliveries=len(deliveries),
        parts=sum(len(delivery.keys) for delivery in published),
        states=states,
        duplicates=duplicates,
        lost=len(stuck) + len(incomplete),
        mismatches=len(unaccounted) + len(misrecorded) + len(unchained),
        report=report,
    )


def _accounts_for(delivery: DeliveryRecord | None, part: StoredPart) -> bool:
    """Whether `delivery` may own this stored part: it says it may be out there, on this network, and the
    part's key names one of its parts."""
    return (
        delivery is not None
        and delivery.state in STATES_THAT_OWN_A_POST
        and delivery.network == part.network
        and part.key in delivery.keys
    )


def describe_states(states: Counter[str]) -> str:
    known = [*FINAL_STATES, *NON_FINAL_STATES]
    ordered = [state for state in known if states[state]] + sorted(set(states) - set(known))
    return " ".join(f"{state}={states[state]}" for state in ordered) or "none"
