"""How fast the scheduler claims due deliveries, against a baseline measured in the same run.

    .venv/bin/python -m bench.claim_rate [--deliveries 100000] [--batch 1000] [--backend postgresql|sqlite]

The baseline reads the same rows, oldest first, in the same batches, with a plain SELECT that changes
nothing: the floor any claim must pay. The claim adds locking, the state change and RETURNING; the ratio
says what those cost. Sending the messages is left out here: it is measured with the broker in the
dispatch benchmarks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from shared.channels.models import Channel
from shared.db import create_db_engine, create_session_factory, utcnow
from shared.deliveries.models import Delivery, DeliveryState
from shared.deliveries.services import claim_due
from shared.migrations import upgrade
from shared.posts.models import Post
from shared.workspaces.models import Workspace
from tests.conftest import create_postgres_database, drop_postgres_database


def seed(sessions: sessionmaker[Session], count: int) -> None:
    now = utcnow()
    with sessions.begin() as session:
        workspace = Workspace(name="bench")
        session.add(workspace)
        session.flush()
        channel = Channel(workspace_id=workspace.id, network="sandbox", name="b", handle="b", settings={})
        post = Post(workspace_id=workspace.id, text="bench", scheduled_at=now)
        session.add_all([channel, post])
        session.flush()
        # One post may not have two deliveries on one channel: give each delivery a post of its own.
        posts = [
            {"id": uuid.uuid4(), "workspace_id": workspace.id, "text": "bench", "scheduled_at": now}
            for _ in range(count)
        ]
        session.execute(insert(Post), posts)
        session.execute(
            insert(Delivery),
            [
                {
                    "id": uuid.uuid4(),
                    "post_id": row["id"],
                    "channel_id": channel.id,
                    "due_at": now - timedelta(seconds=index % 60),
                    "state": DeliveryState.SCHEDULED,
                }
                for index, row in enumerate(posts)
            ],
        )


def timed_batches(run_batch: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    total = 0
    while (got := run_batch()) > 0:
        total += got
    return time.perf_counter() - started, total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()

    url = (
        create_postgres_database()
        if args.backend == "postgresql"
        else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    )
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        sessions = create_session_factory(engine)
        seed(sessions, args.deliveries)

        last_read = (utcnow() - timedelta(days=1), uuid.UUID(int=0))

        def read_batch() -> int:
            nonlocal last_read
            # Keyset pagination, like the claim: each batch starts where the last one ended.
            query = (
                select(Delivery.due_at, Delivery.id)
                .where(
                    Delivery.state == DeliveryState.SCHEDULED,
                    tuple_(Delivery.due_at, Delivery.id) > last_read,
                )
                .order_by(Delivery.due_at, Delivery.id)
                .limit(args.batch)
            )
            with sessions.begin() as session:
                rows = session.execute(query).all()
            if rows:
                last_read = (rows[-1].due_at, rows[-1].id)
            return len(rows)

        def claim_batch() -> int:
            with sessions.begin() as session:
                return len(
                    claim_due(
                        session,
                        now=utcnow(),
                        lookahead=timedelta(seconds=1),
                        batch_size=args.batch,
                        lease=timedelta(minutes=5),
                    )
                )

        baseline_seconds, read = timed_batches(read_batch)
        claim_seconds, claimed = timed_batches(claim_batch)
        with sessions.begin() as session:
            session.execute(update(Delivery).values(state=DeliveryState.SCHEDULED))
        assert read == claimed == args.deliveries, (read, claimed)

        baseline_rate = read / baseline_seconds
        claim_rate = claimed / claim_seconds
        print(
            f"backend={args.backend} deliveries={args.deliveries} batch={args.batch} "
            f"claimed_per_s={claim_rate:,.0f} baseline_select_per_s={baseline_rate:,.0f} "
            f"ratio={claim_rate / baseline_rate:.2f}"
        )
    finally:
        engine.dispose()
        if args.backend == "postgresql":
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
