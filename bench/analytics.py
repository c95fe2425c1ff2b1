"""Engagement at scale on PostgreSQL: loading samples, and the dashboard's queries, against baselines.

    .venv/bin/python -m bench.analytics [--samples 10000000] [--workspaces 20] [--channels 10] [--runs 50]

A fresh database (through CRIER_TEST_POSTGRES_URL) gets `--workspaces` workspaces of `--channels` channels
each (Mastodon, Bluesky and sandbox in turn), one post per delivery published over 120 days up to a month
ago, and each delivery's seven readings of the default schedule (15 min … 30 days) with counts that grow
as real ones do: `--samples` rows in all, in the order they would have been collected.

- **load**: the samples written with COPY (psycopg's `cursor.copy`), against an executemany INSERT of
  100,000 of them into the loaded table, rolled back (how the collector writes: a statement per row). Then
  the latest values and the hourly rollups are built from the samples with one set-based statement each,
  and checked: for every channel and count the rollups add up to the latest values.
- **series**: the 90-day daily series of one workspace's network in Europe/Paris, through Crier's own
  `engagement_series` (SQL plus the bucketing in Python), against the same figures computed from the raw
  samples (each reading's increase by a window function over the samples) in SQL alone.
- **summary**: a 30-day and a 90-day summary of a workspace (totals, engagement rate, posts published,
  top 5 posts) through `engagement_summary`, against the same figures from the raw samples.

Each query runs `--runs` times (the baselines `--baseline-runs` times), workspaces and networks in turn;
p50 and p95 are printed with the ratio baseline ÷ Crier. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from shared.config import Settings
from shared.db import create_db_engine
from shared.metrics.analytics import Period, Selection
from shared.metrics.series import Bucket, engagement_series
from shared.metrics.summary import engagement_summary
from shared.migrations import upgrade
from shared.models import create_session_factory
from tests.conftest import create_postgres_database, drop_postgres_database

NETWORKS = ("mastodon", "bluesky", "sandbox")
STEPS = Settings(_env_file=None).metrics_steps
INSERT_BASELINE_ROWS = 100_000
CHUNK = 50_000
PARIS = ZoneInfo("Europe/Paris")
SAMPLE_COLUMNS = "delivery_id, collected_at, likes, reposts, replies, quotes, bookmarks, views, clicks, raw"


@dataclass(frozen=True)
class Channel:
    id: uuid.UUID
    workspace_id: uuid.UUID
    network: str


@dataclass(frozen=True)
class Timings:
    p50: float
    p95: float

    @classmethod
    def of(cls, seconds: list[float]) -> Timings:
        ordered = sorted(seconds)
        return cls(statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)])


def timed(run: Callable[[], Any], times: int) -> Timings:
    """Run once to warm up (caches, compiled statements), then `times` times on the clock."""
    run()
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return Timings.of(seconds)


# -- Seeding -------------------------------------------------------------------------------------------


def seed_channels(engine: Engine, workspaces: int, per_workspace: int) -> list[Channel]:
    channels: list[Channel] = []
    with engine.begin() as connection:
        for number in range(workspaces):
            workspace_id = uuid.uuid4()
            connection.execute(
                text("INSERT INTO workspaces (id, name, created_at) VALUES (:id, :name, now())"),
                {"id": workspace_id, "name": f"bench {number}"},
            )
            for index in range(per_workspace):
                channel = Channel(uuid.uuid4(), workspace_id, NETWORKS[index % len(NETWORKS)])
                connection.execute(
                    text(
                        "INSERT INTO channels (id, workspace_id, network, name, handle, settings, state,"
                        " timezone, posting_schedule, created_at) VALUES (:id, :workspace_id, :network,"
                        " :name, :handle, '{}', 'active', 'Europe/Paris', '{}', now())"
                    ),
                    {
                        "id": channel.id,
                        "workspace_id": workspace_id,
                        "network": channel.network,
                        "name": f"{channel.network} {number}.{index}",
                        "handle": f"bench_{number}_{index}",
                    },
                )
                channels.append(channel)
    return channels


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    channel: Channel
    published_at: float  # epoch seconds
    likes: int  # at 30 days


def seed_deliveries(
    dsn: str, channels: list[Channel], count: int, now: datetime, rng: random.Random
) -> list[Delivery]:
    """`count` published deliveries, one post each, over 120 days ending a month ago: all read 7 times."""
    last = (now - STEPS[-1] - timedelta(days=1)).timestamp()
    first = last - timedelta(days=120).total_seconds()
    deliveries = sorted(
        (
            Delivery(
                uuid.uuid4(), rng.choice(channels), rng.uniform(first, last), int(rng.paretovariate(1.3) * 8)
            )
            for _ in range(count)
        ),
        key=lambda delivery: delivery.published_at,
    )
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY posts (id, workspace_id, text, thread, media, stage, timing, timezone, scheduled_at,"
            " occurrences_created, version, created_at, updated_at) FROM STDIN"
        ) as copy:
            for number, delivery in enumerate(deliveries):
                at = _timestamp(delivery.published_at)
                workspace = delivery.channel.workspace_id
                copy.write(
                    f"{delivery.id}\t{workspace}\tBench post {number}\t[]\t[]\tscheduled\tat\t"
                    f"UTC\t{at}\t1\t1\t{at}\t{at}\n"
                )
        with cursor.copy(
            "COPY deliveries (id, post_id, channel_id, occurrence, state, scheduled_at, due_at, failures,"
            " attempt, external_id, published_at, metrics_collections, created_at, updated_at) FROM STDIN"
        ) as copy:
            for delivery in deliveries:
                at = _timestamp(delivery.published_at)
                copy.write(
                    f"{delivery.id}\t{delivery.id}\t{delivery.channel.id}\t0\tpublished\t{at}\t{at}\t0\t1\t"
                    f"{delivery.id.hex}\t{at}\t{len(STEPS)}\t{at}\t{at}\n"
                )
    return deliveries


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def sample_lines(deliveries: list[Delivery], count: int, rng: random.Random) -> Iterator[str]:
    """The deliveries' readings as COPY lines, in the order they would have been collected."""
    published = [delivery.published_at for delivery in deliveries]
    first_hour = int(published[0] // 3600)
    last_hour = int((published[-1] + STEPS[-1].total_seconds()) // 3600) + 1
    offsets = [step.total_seconds() for step in STEPS]
    emitted = 0
    for hour in range(first_hour, last_hour + 1):
        start = hour * 3600
        for step, offset in enumerate(offsets):
            low = _bisect(published, start - offset)
            high = _bisect(published, start + 3600 - offset)
            for delivery in deliveries[low:high]:
                yield _line(delivery, step, delivery.published_at + offset + rng.uniform(0, 60))
                emitted += 1
                if emitted == count:
                    return


def _bisect(values: list[float], value: float) -> int:
    low, high = 0, len(values)
    while low < high:
        middle = (low + high) // 2
        if values[middle] < value:
            low = middle + 1
        else:
            high = middle
    return low


# The share of its 30-day total a post has at each step: most of it in the first day.
SHARES = (0.15, 0.35, 0.6, 0.8, 0.9, 0.96, 1.0)


def _line(delivery: Delivery, step: int, at: float) -> str:
    likes = int(delivery.likes * SHARES[step])
    network = delivery.channel.network
    quotes = "\\N" if network == "mastodon" and delivery.likes % 3 == 0 else str(likes // 30)
    bookmarks = str(likes // 8) if network != "mastodon" else "\\N"
    views = str(likes * 40 + 10) if network == "sandbox" else "\\N"
    counts = f"{likes}\t{likes // 5}\t{likes // 10}\t{quotes}\t{bookmarks}\t{views}\t\\N"
    return f"{delivery.id}\t{_timestamp(at)}\t{counts}\t{{}}\n"


# -- Loading -------------------------------------------------------------------------------------------


def load_samples(dsn: str, lines: list[str]) -> float:
    """COPY the samples; the seconds it took."""
    started = time.perf_counter()
    statement = f"COPY metric_samples ({SAMPLE_COLUMNS}) FROM STDIN"
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, len(lines), CHUNK):
            copy.write("".join(lines[start : start + CHUNK]))
    return time.perf_counter() - started


def insert_baseline(dsn: str, lines: list[str]) -> float:
    """The same rows with an executemany INSERT, in a transaction rolled back; the seconds it took."""
    rows = [
        tuple(None if value == "\\N" else value for value in line.rstrip("\n").split("\t")) for line in lines
    ]
    placeholders = ", ".join(["%s"] * len(rows[0]))
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO metric_samples ({SAMPLE_COLUMNS}) VALUES ({placeholders})", rows)  # noqa: S608
        seconds = time.perf_counter() - started
        connection.rollback()
    return seconds


LATEST_FROM_SAMPLES = """
INSERT INTO delivery_metrics (delivery_id, workspace_id, post_id, channel_id, network, published_at,
    collected_at, likes, reposts, replies, quotes, bookmarks, views, clicks, interactions)
SELECT DISTINCT ON (s.delivery_id) s.delivery_id, c.workspace_id, d.post_id, d.channel_id, c.network,
    d.published_at, s.collected_at, s.likes, s.reposts, s.replies, s.quotes, s.bookmarks, s.views, s.clicks,
    COALESCE(s.likes, 0) + COALESCE(s.reposts, 0) + COALESCE(s.replies, 0) + COALESCE(s.quotes, 0)
        + COALESCE(s.bookmarks, 0) + COALESCE(s.clicks, 0)
FROM metric_samples s
JOIN deliveries d ON d.id = s.delivery_id
JOIN channels c ON c.id = d.channel_id
ORDER BY s.delivery_id, s.collected_at DESC, s.id DESC
"""

# Each reading's increase over the delivery's previous one, added up per channel and hour of observation:
# what record_engagement adds, reading by reading, as samples come in.
GAINS = """
SELECT s.delivery_id, s.collected_at,
    s.likes - COALESCE(lag(s.likes) OVER w, 0) AS likes,
    s.reposts - COALESCE(lag(s.reposts) OVER w, 0) AS reposts,
    s.replies - COALESCE(lag(s.replies) OVER w, 0) AS replies,
    s.quotes - COALESCE(lag(s.quotes) OVER w, 0) AS quotes,
    s.bookmarks - COALESCE(lag(s.bookmarks) OVER w, 0) AS bookmarks,
    s.views - COALESCE(lag(s.views) OVER w, 0) AS views,
    s.clicks - COALESCE(lag(s.clicks) OVER w, 0) AS clicks
FROM metric_samples s
{where}
WINDOW w AS (PARTITION BY s.delivery_id ORDER BY s.collected_at, s.id)
"""

HOURS_FROM_SAMPLES = f"""
INSERT INTO engagement_hours (channel_id, hour, workspace_id, network, likes, reposts, replies, quotes,
    bookmarks, views, clicks)
SELECT d.channel_id, date_trunc('hour', g.collected_at), c.workspace_id, c.network, sum(g.likes),
    sum(g.reposts), sum(g.replies), sum(g.quotes), sum(g.bookmarks), sum(g.views), sum(g.clicks)
FROM ({GAINS.format(where="")}) g
JOIN deliveries d ON d.id = g.delivery_id
JOIN channels c ON c.id = d.channel_id
GROUP BY d.channel_id, date_trunc('hour', g.collected_at), c.workspace_id, c.network
"""  # noqa: S608 (constants only)

ROLLUPS_MATCH_LATEST = """
SELECT count(*) FROM (
    SELECT channel_id, sum(likes) AS likes, sum(bookmarks) AS bookmarks, sum(views) AS views
    FROM engagement_hours GROUP BY channel_id
) h FULL JOIN (
    SELECT channel_id, sum(likes) AS likes, sum(bookmarks) AS bookmarks, sum(views) AS views
    FROM delivery_metrics GROUP BY channel_id
) m USING (channel_id)
WHERE h.likes IS DISTINCT FROM m.likes OR h.bookmarks IS DISTINCT FROM m.bookmarks
    OR h.views IS DISTINCT FROM m.views
"""


def build_aggregates(engine: Engine) -> tuple[float, int]:
    """The latest values and the hourly rollups, from the samples, checked; the seconds and rollup rows."""
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL timezone = 'UTC'")
        # Both statements sort every sample by delivery and time: in memory rather than on disk.
        connection.exec_driver_sql("SET LOCAL work_mem = '512MB'")
        connection.exec_driver_sql(LATEST_FROM_SAMPLES)
        connection.exec_driver_sql(HOURS_FROM_SAMPLES)
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        mismatched = connection.exec_driver_sql(ROLLUPS_MATCH_LATEST).scalar()
        rollups = connection.exec_driver_sql("SELECT count(*) FROM engagement_hours").scalar()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # As autovacuum would soon after a bulk load: statistics for the planner, the visibility map for
        # index-only scans.
        connection.exec_driver_sql("VACUUM ANALYZE")
    assert mismatched == 0, f"{mismatched} channels' rollups do not add up to their latest values"
    return seconds, int(rollups or 0)


# -- The same figures from the raw samples (the baselines) -----------------------------------------------

WORKSPACE_SAMPLES = (
    "JOIN deliveries d ON d.id = s.delivery_id JOIN channels c ON c.id = d.channel_id"
    " WHERE c.workspace_id = :workspace AND s.collected_at < :end"
)

SERIES_FROM_SAMPLES = f"""
SELECT date_trunc('day', g.collected_at AT TIME ZONE 'Europe/Paris') AS day, sum(g.likes), sum(g.reposts),
    sum(g.replies), sum(g.quotes), sum(g.bookmarks), sum(g.views), sum(g.clicks)
FROM ({GAINS.format(where=WORKSPACE_SAMPLES + " AND c.network = :network")}) g
WHERE g.collected_at >= :start
GROUP BY 1 ORDER BY 1
"""  # noqa: S608 (constants only)

SUMMARY_FROM_SAMPLES = f"""
SELECT d.channel_id, sum(g.likes), sum(g.reposts), sum(g.replies), sum(g.quotes), sum(g.bookmarks),
    sum(g.views), sum(g.clicks)
FROM ({GAINS.format(where=WORKSPACE_SAMPLES)}) g
JOIN deliveries d ON d.id = g.delivery_id
WHERE g.collected_at >= :start
GROUP BY d.channel_id
"""  # noqa: S608 (constants only)

TOP_FROM_SAMPLES = """
SELECT d.post_id, sum(COALESCE(l.likes, 0) + COALESCE(l.reposts, 0) + COALESCE(l.replies, 0)
    + COALESCE(l.quotes, 0) + COALESCE(l.bookmarks, 0) + COALESCE(l.clicks, 0)) AS interactions,
    count(*) AS deliveries
FROM deliveries d
JOIN channels c ON c.id = d.channel_id
CROSS JOIN LATERAL (
    SELECT * FROM metric_samples s WHERE s.delivery_id = d.id ORDER BY s.collected_at DESC, s.id DESC LIMIT 1
) l
WHERE c.workspace_id = :workspace AND d.published_at >= :start AND d.published_at < :end
GROUP BY d.post_id ORDER BY interactions DESC, d.post_id LIMIT 5
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--channels", type=int, default=10, help="per workspace")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    for line in run(args.samples, args.workspaces, args.channels, args.runs, args.baseline_runs, args.seed):
        print(line, flush=True)


def run(
    samples: int, workspaces: int, channels_each: int, runs: int, baseline_runs: int, seed: int
) -> Iterator[str]:
    """Run the benchmark on a database of its own; yield each result line as it is measured."""
    url = create_postgres_database()
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        rng = random.Random(seed)
        now = datetime.now(UTC).replace(microsecond=0)
        channels = seed_channels(engine, workspaces, channels_each)
        started = time.perf_counter()
        deliveries = seed_deliveries(dsn, channels, -(-samples // len(STEPS)), now, rng)
        seconds = time.perf_counter() - started
        yield f"seeded deliveries={len(deliveries):,} channels={len(channels)} in {seconds:.1f} s"
        lines = list(sample_lines(deliveries, samples, rng))
        copy_seconds = load_samples(dsn, lines)
        # Into the loaded table, as COPY went on filling it, and rolled back.
        insert_seconds = insert_baseline(dsn, lines[: min(INSERT_BASELINE_ROWS, len(lines))])
        insert_rate = min(INSERT_BASELINE_ROWS, len(lines)) / insert_seconds
        copy_rate = len(lines) / copy_seconds
        del lines
        build_seconds, rollup_rows = build_aggregates(engine)
        yield (
            f"load samples={samples:,} copy_s={copy_seconds:.1f} samples_per_s={copy_rate:,.0f} "
            f"baseline_insert_per_s={insert_rate:,.0f} ratio={copy_rate / insert_rate:.1f} "
            f"build_latest_and_rollups_s={build_seconds:.1f} rollup_rows={rollup_rows:,} "
            f"with_build_samples_per_s={samples / (copy_seconds + build_seconds):,.0f}"
        )
        yield from measure_queries(engine, channels, now, runs, baseline_runs)
    finally:
        engine.dispose()
        drop_postgres_database(url)


def measure_queries(
    engine: Engine, channels: list[Channel], now: datetime, runs: int, baseline_runs: int
) -> Iterator[str]:
    sessions = create_session_factory(engine)
    workspaces = sorted({channel.workspace_id for channel in channels})
    cases = [(workspace, network) for workspace in workspaces for network in NETWORKS]
    turn = iter(range(10**9))

    def next_case() -> tuple[uuid.UUID, str]:
        return cases[next(turn) % len(cases)]

    ninety = Period(now - timedelta(days=90), now, PARIS)

    def series() -> None:
        workspace, network = next_case()
        with sessions.begin() as session:
            points = engagement_series(session, Selection(workspace, network=network), ninety, Bucket.DAY)
        assert len(points) in (90, 91)

    def series_from_samples() -> None:
        workspace, network = next_case()
        with engine.connect() as connection:
            parameters = {
                "workspace": workspace,
                "network": network,
                "start": ninety.start,
                "end": ninety.end,
            }
            connection.execute(text(SERIES_FROM_SAMPLES), parameters).all()

    crier, baseline = timed(series, runs), timed(series_from_samples, baseline_runs)
    yield _report("series_90_days_by_day", crier, baseline)

    for days in (30, 90):
        period = Period(now - timedelta(days=days), now, PARIS)

        def summary(period: Period = period) -> None:
            workspace, _ = next_case()
            with sessions.begin() as session:
                found = engagement_summary(session, Selection(workspace), period, top=5)
            assert found.engagement_rate.basis == "views"

        def summary_from_samples(period: Period = period) -> None:
            workspace, _ = next_case()
            parameters = {"workspace": workspace, "start": period.start, "end": period.end}
            with engine.connect() as connection:
                connection.execute(text(SUMMARY_FROM_SAMPLES), parameters).all()
                connection.execute(text(TOP_FROM_SAMPLES), parameters).all()

        crier, baseline = timed(summary, runs), timed(summary_from_samples, baseline_runs)
        yield _report(f"summary_{days}_days", crier, baseline)


def _report(name: str, crier: Timings, baseline: Timings) -> str:
    return (
        f"{name} p50_ms={crier.p50 * 1000:.1f} p95_ms={crier.p95 * 1000:.1f} "
        f"baseline_p50_ms={baseline.p50 * 1000:.1f} baseline_p95_ms={baseline.p95 * 1000:.1f} "
        f"ratio={baseline.p95 / crier.p95:.1f}"
    )


if __name__ == "__main__":
    main()
