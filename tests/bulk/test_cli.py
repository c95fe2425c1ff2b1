"""`crier import FILE` against a real SQLite database, as a person runs it on the embedded mode's machine."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from services.cli.main import cli
from shared.channels.models import Channel
from shared.db import create_db_engine, utcnow
from shared.migrations import upgrade
from shared.models import create_session_factory
from shared.posts.models import Post, PostStage
from shared.workspaces.access import Role
from shared.workspaces.services import get_or_add_member, get_or_create_workspace

TOMORROW = (utcnow() + timedelta(days=1)).replace(microsecond=0).isoformat()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A migrated SQLite database: a workspace "Team", its owner owner@localhost, a sandbox channel."""
    url = f"sqlite:///{tmp_path / 'crier.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    with create_session_factory(engine).begin() as session:
        workspace = get_or_create_workspace(session, "Team")
        get_or_add_member(session, workspace, "owner@localhost", role=Role.OWNER)
        get_or_add_member(session, workspace, "pat@example.org", role=Role.CONTRIBUTOR)
        session.add(Channel(workspace_id=workspace.id, network="sandbox", name="Sandbox", handle="sandbox"))
    engine.dispose()
    return url


def crier(database_url: str, tmp_path: Path, *arguments: str) -> Result:
    environment = {"CRIER_DATABASE_URL": database_url, "CRIER_DATA_DIR": str(tmp_path / "var")}
    return CliRunner().invoke(cli, list(arguments), env=environment)


def stored_posts(database_url: str) -> list[Post]:
    engine = create_db_engine(database_url)
    try:
        with create_session_factory(engine)() as session:
            return list(session.scalars(select(Post).order_by(Post.created_at)))
    finally:
        engine.dispose()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_importing_a_csv_file_makes_its_posts_and_says_how_many(database_url: str, tmp_path: Path) -> None:
    file = write(tmp_path, "posts.csv", f"text,channels,time\nHello,Sandbox,{TOMORROW}\nAgain,sandbox,now\n")

    result = crier(database_url, tmp_path, "import", file, "--workspace", "Team")

    assert result.exit_code == 0, result.output
    assert "Checking" in result.output
    assert "Importing" in result.output
    assert result.stdout.splitlines()[-1].startswith("Imported 2 posts into Team (import ")
    assert [post.text for post in stored_posts(database_url)] == ["Hello", "Again"]


def test_a_json_file_is_read_as_json(database_url: str, tmp_path: Path) -> None:
    file = write(tmp_path, "posts.json", json.dumps([{"text": "Hi", "channels": ["Sandbox"], "time": "now"}]))

    result = crier(database_url, tmp_path, "import", file, "--workspace", "Team")

    assert result.exit_code == 0, result.output
    assert len(stored_posts(database_url)) == 1


def test_every_problem_is_printed_with_its_row_and_column_and_nothing_is_stored(
    database_url: str, tmp_path: Path
) -> None:
    file = write(
        tmp_path, "posts.csv", f"text,channels,time\nFine,Sandbox,now\nLost,Sandbx,now\n,Sandbox,{TOMORROW}\n"
    )

    result = crier(database_url, tmp_path, "import", file, "--workspace", "Team")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "row 3, column channels: There is no channel named “Sandbx” (did you mean “Sandbox”?). "
        "The channels are: Sandbox.",
        "row 4, column text: The text is empty.",
        "Nothing was imported: 2 problems in 2 rows of 3. Each error names its row and column.",
    ]
    assert stored_posts(database_url) == []


def test_a_file_too_long_is_refused_before_any_row_is_checked(database_url: str, tmp_path: Path) -> None:
    file = write(tmp_path, "posts.csv", "text,channels,time\n" + "Hi,Sandbox,now\n" * 5001)

    result = crier(database_url, tmp_path, "import", file, "--workspace", "Team")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "the file: The file has 5,001 posts; an import takes at most 5,000. Split it into several files.",
        "Nothing was imported.",
    ]


def test_a_dry_run_checks_every_row_and_stores_nothing(database_url: str, tmp_path: Path) -> None:
    file = write(tmp_path, "posts.csv", "text,channels,time\nHello,Sandbox,now\n")

    result = crier(database_url, tmp_path, "import", file, "--workspace", "Team", "--dry-run")

    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[-1] == "Checked 1 row: it can be imported. Nothing was stored (--dry-run)."
    )
    assert stored_posts(database_url) == []


def test_posts_are_written_by_the_member_named_and_wait_for_approval_by_their_role(
    database_url: str, tmp_path: Path
) -> None:
    file = write(tmp_path, "posts.csv", f"text,channels,time\nHello,Sandbox,{TOMORROW}\n")

    result = crier(
        database_url, tmp_path, "import", file, "--workspace", "Team", "--email", "pat@example.org"
    )

    assert result.exit_code == 0, result.output
    assert [post.stage for post in stored_posts(database_url)] == [PostStage.PENDING_APPROVAL]


def test_an_unknown_workspace_or_member_is_refused_by_name(database_url: str, tmp_path: Path) -> None:
    file = write(tmp_path, "posts.csv", "text,channels,time\nHello,Sandbox,now\n")

    no_workspace = crier(database_url, tmp_path, "import", file, "--workspace", "Nobody")
    no_member = crier(
        database_url, tmp_path, "import", file, "--workspace", "Team", "--email", "x@example.org"
    )

    assert no_workspace.exit_code == no_member.exit_code == 1
    assert "There is no workspace named 'Nobody'." in no_workspace.stderr
    assert "x@example.org is not a member of 'Team'" in no_member.stderr
    engine = create_db_engine(database_url)
    with create_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0
    engine.dispose()


def test_without_workspace_the_only_workspace_there_is_takes_the_posts(
    database_url: str, tmp_path: Path
) -> None:
    file = write(tmp_path, "posts.csv", "text,channels,time\nHello,Sandbox,now\n")

    result = crier(database_url, tmp_path, "import", file)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("Imported 1 post into Team (import ")
    assert [post.text for post in stored_posts(database_url)] == ["Hello"]


def test_without_workspace_several_workspaces_are_listed_and_nothing_is_imported(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_db_engine(database_url)
    with create_session_factory(engine).begin() as session:
        get_or_create_workspace(session, "Demo")
    engine.dispose()
    file = write(tmp_path, "posts.csv", "text,channels,time\nHello,Sandbox,now\n")

    result = crier(database_url, tmp_path, "import", file)

    assert result.exit_code == 1
    assert "There are 2 workspaces ('Demo', 'Team'): choose one with --workspace." in result.stderr
    assert stored_posts(database_url) == []


def test_without_any_workspace_the_import_says_how_to_make_one(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    file = write(tmp_path, "posts.csv", "text,channels,time\nHello,Sandbox,now\n")

    result = crier(empty, tmp_path, "import", file)

    assert result.exit_code == 1
    assert "There is no workspace yet: `crier token create --workspace NAME` makes one." in result.stderr


def test_one_problem_in_one_row_is_counted_in_the_singular(database_url: str, tmp_path: Path) -> None:
    file = write(tmp_path, "posts.csv", "text,channels,time\n,Sandbox,now\n")

    result = crier(database_url, tmp_path, "import", file, "--workspace", "Team")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Nothing was imported: 1 problem in 1 row of 1. Each error names its row and column."
    )
