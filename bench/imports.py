"""Bulk import of posts from a CSV file, against a baseline measured in the same run.

    .venv/bin/python -m bench.imports [--rows 5000] [--baseline-rows 1000] [--backend both|sqlite|postgresql]

A generated CSV file of `--rows` posts over four channels (two sandbox, one Mastodon, one Bluesky): most at
an exact time in the coming month, some queued, some drafts, with labels and a Mastodon text on some rows.
Figures, per backend:
- check: reading the file and checking every row (what `crier import --dry-run` does);
- import: reading, checking and storing every post, committed — the whole of POST /v1/imports.
Baseline: the same posts made one by one with create_post, each in its own transaction, as that many
POST /v1/posts requests would (without HTTP, and without their previews); `--baseline-rows` of them, since
the rate is steady. The ratio is the import's posts per second over the baseline's.
PostgreSQL is this machine's (CRIER_TEST_POSTGRES_URL): the run makes a database of its own, then drops it.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from datetime import timedelta

from shared.bootstrap import Services, bootstrap
from shared.bulk.checking import check_import
from shared.bulk.reading import SourceFormat, read_source
from shared.bulk.services import store_import
from shared.channels.models import Channel
from shared.config import Settings
from shared.db import utcnow
from shared.migrations import upgrade
from shared.workflow.services import create_post
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.services import get_or_add_member, get_or_create_workspace
from tests.conftest import create_postgres_database, drop_postgres_database

HOURLY = {
    day: [f"{hour:02d}:00" for hour in range(24)] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
CHANNELS = [
    ("Sandbox A", "sandbox", {}),
    ("Sandbox B", "sandbox", {}),
    ("Mastodon", "mastodon", {"base_url": "https://mastodon.example"}),
    ("Bluesky", "bluesky", {}),
]


def make_csv(rows: int) -> bytes:
    """Posts a team would plan for a month: timed, some queued, some drafts, with labels and variants."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "channels", "time", "timezone", "labels", "draft", "text:mastodon"])
    start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    for index in range(rows):
        channels = ["Sandbox A|Mastodon", "Sandbox B|Bluesky", "Sandbox A|Sandbox B|Mastodon|Bluesky"][
            index % 3
        ]
        when = (
            "queue" if index % 10 == 7 else (start + timedelta(minutes=9 * index)).strftime("%Y-%m-%dT%H:%M")
        )
        writer.writerow(
            [
                f"Post {index}: our spring meetup is on, tickets at example.org/meetup/{index}",
                channels,
                when,
                "Europe/Paris",
                "spring|meetup" if index % 2 else "spring",
                "true" if index % 10 == 3 else "false",
                f"Post {index} on the fediverse #meetup" if "Mastodon" in channels and index % 4 == 0 else "",
            ]
        )
    return out.getvalue().encode()


def owner_of(services: Services, name: str) -> Actor:
    """A workspace with the benchmark's channels, and its owner acting."""
    with services.sessions.begin() as session:
        workspace = get_or_create_workspace(session, name)
        member = get_or_add_member(session, workspace, "owner@example.org", role=Role.OWNER)
        # Stored as they are, without credentials: nothing is published, and the checks are offline.
        session.add_all(
            Channel(
                workspace_id=workspace.id,
                network=network,
                name=channel_name,
                handle=channel_name.lower().replace(" ", "_"),
                settings=options,
                posting_schedule=HOURLY,
            )
            for channel_name, network, options in CHANNELS
        )
        return Actor.of(workspace.id, member.id, Role.OWNER, Scope.ADMIN, member.name)


def measure(services: Services, data: bytes, baseline_rows: int) -> dict[str, float]:
    actor = owner_of(services, "import")
    started = time.perf_counter()
    with services.sessions.begin() as session:
        plan = check_import(
            session, services.networks, actor, read_source(data, SourceFormat.CSV), now=utcnow()
        )
    checked = time.perf_counter() - started

    started = time.perf_counter()
    with services.sessions.begin() as session:
        now = utcnow()
        plan = check_import(session, services.networks, actor, read_source(data, SourceFormat.CSV), now=now)
        made = store_import(session, plan)
    imported = time.perf_counter() - started
    assert made.row_count == len(plan.posts)

    # The baseline's own workspace, so its queued posts meet no slots the import took.
    other = owner_of(services, "one by one")
    with services.sessions.begin() as session:
        requests = [
            post.request
            for post in check_import(
                session, services.networks, other, read_source(data, SourceFormat.CSV), now=utcnow()
            ).posts[:baseline_rows]
        ]
    started = time.perf_counter()
    for request in requests:
        with services.sessions.begin() as session:
            create_post(session, services.networks, other, request, now=utcnow())
    one_by_one = time.perf_counter() - started
    return {
        "rows": len(plan.posts),
        "check_s": checked,
        "import_s": imported,
        "import_per_s": len(plan.posts) / imported,
        "baseline_per_s": len(requests) / one_by_one,
    }


def run(backend: str, rows: int, baseline_rows: int) -> str:
    url = create_postgres_database() if backend == "postgresql" else f"sqlite:///{tempfile.mkdtemp()}/b.db"
    services = bootstrap(Settings(database_url=url, broker_url="memory://", data_dir=tempfile.mkdtemp()))
    try:
        upgrade(services.engine)
        figures = measure(services, make_csv(rows), baseline_rows)
    finally:
        services.engine.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)
    return (
        f"backend={backend} rows={figures['rows']:,.0f} check_s={figures['check_s']:.2f} "
        f"import_s={figures['import_s']:.2f} import_per_s={figures['import_per_s']:,.0f} "
        f"baseline_create_post_per_s={figures['baseline_per_s']:,.0f} "
        f"ratio={figures['import_per_s'] / figures['baseline_per_s']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--baseline-rows", type=int, default=1_000)
    parser.add_argument("--backend", choices=["both", "sqlite", "postgresql"], default="both")
    args = parser.parse_args()
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        print(run(backend, args.rows, args.baseline_rows), flush=True)


if __name__ == "__main__":
    main()
