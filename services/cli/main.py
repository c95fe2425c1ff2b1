"""The `crier` command."""

from __future__ import annotations

import shlex
import sys
from datetime import timedelta
from pathlib import Path

import click
import httpx
from honcho.printer import Printer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from services.cli.demo import CrierClient, run_demo
from services.cli.processes import process_commands
from services.cli.supervisor import Supervisor
from shared.bootstrap import keep_new_files_private
from shared.bulk.checking import InvalidRows, check_import
from shared.bulk.reading import describe_pointer, guess_format, read_source
from shared.bulk.services import store_import
from shared.channels.services import reseal_credentials
from shared.config import Settings, local_url
from shared.credentials import cipher_from_settings
from shared.db import create_db_engine, utcnow
from shared.errors import InvalidInput
from shared.migrations import upgrade
from shared.models import create_session_factory
from shared.monitoring.recording import count_process_restart, expect_process_restarts, use_folder
from shared.networks.registry import NetworkRegistry
from shared.wording import counted
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.models import Member, Workspace
from shared.workspaces.services import get_or_add_member, get_or_create_workspace, issue_token


@click.group()
@click.pass_context
def cli(context: click.Context) -> None:
    """Crier: write a post once, publish it to every channel exactly once."""
    # Every command that writes the data directory, and every process `crier up` starts, keeps it private.
    keep_new_files_private()
    try:
        context.obj = Settings()
    except ValidationError as refused:
        raise click.ClickException(
            "The settings are refused:\n" + "\n".join(_said(error) for error in refused.errors())
        ) from refused


def _said(error: ErrorDetails) -> str:
    """One settings error as a line: the variable, then what is wrong with it."""
    where = f"CRIER_{str(error['loc'][0]).upper()}: " if error["loc"] else ""
    return f"- {where}{error['msg'].removeprefix('Value error, ')}"


@cli.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Migrate the database to the newest schema."""
    upgrade(create_db_engine(settings.resolved_database_url))
    click.echo(f"Database at {_redacted(settings.resolved_database_url)} is up to date.")


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--workspace", default="Default", show_default=True, help="Made if it does not exist.")
@click.option(
    "--email",
    default="owner@localhost",
    show_default=True,
    help="The member the token belongs to; added as owner if new.",
)
@click.option("--name", default="cli", show_default=True, help="A label to tell tokens apart.")
@click.option(
    "--scope",
    type=click.Choice([scope.value for scope in Scope]),
    default=Scope.ADMIN.value,
    show_default=True,
    help="What the token may do, within what the member's role allows.",
)
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Never expires if omitted.")
@click.pass_obj
def token_create(
    settings: Settings, workspace: str, email: str, name: str, scope: str, expires_in_days: int | None
) -> None:
    """Make an API token; it is printed once and only its hash is kept."""
    click.echo(_make_token(settings, workspace, email, name, Scope(scope), expires_in_days))


def _make_token(
    settings: Settings,
    workspace: str,
    email: str,
    name: str,
    scope: Scope = Scope.ADMIN,
    expires_in_days: int | None = None,
) -> str:
    engine = create_db_engine(settings.resolved_database_url)
    upgrade(engine)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with create_session_factory(engine).begin() as session:
        # The command line is the machine's owner: it may make the first owner of a new workspace.
        member = get_or_add_member(
            session, get_or_create_workspace(session, workspace), email, role=Role.OWNER
        )
        plain, _ = issue_token(session, member, name, scope=scope, expires_at=expires_at)
    engine.dispose()
    return plain


@cli.group()
def credentials() -> None:
    """Channel credentials."""


@credentials.command("reseal")
@click.pass_obj
def credentials_reseal(settings: Settings) -> None:
    """Seal every channel's credentials with the first secret in CRIER_SECRET_KEY (after a rotation)."""
    engine = create_db_engine(settings.resolved_database_url)
    with create_session_factory(engine).begin() as session:
        count = reseal_credentials(session, cipher_from_settings(settings))
    engine.dispose()
    click.echo(
        f"Resealed the credentials of {counted(count, 'channel')}. The older secrets may now be removed."
    )


@cli.command()
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.pass_obj
def up(settings: Settings, workers: int) -> None:
    """Migrate, then run the API, the scheduler and the worker, restarting any that exits, until Ctrl-C."""
    upgrade(create_db_engine(settings.resolved_database_url))
    click.echo(start_banner(settings))
    commands = {name: shlex.split(command) for name, command in process_commands(settings, workers).items()}
    # The restarts are counted in the host's Prometheus folder, beside the processes' own counts.
    use_folder(settings.prometheus_folder)
    expect_process_restarts(commands)
    supervisor = Supervisor(commands, Printer(sys.stdout), on_restart=count_process_restart)
    sys.exit(supervisor.run_until_signalled())


def start_banner(settings: Settings) -> str:
    """Where the API `crier up` starts can be reached from this machine, and by users when that differs."""
    public_url = settings.public_url.rstrip("/")
    try:
        here = local_url(settings.api_bind)
    except ValueError:
        return f"Crier API on {settings.api_bind}, reached at {public_url}  (docs: {public_url}/docs)"
    banner = f"Crier API on {here}"
    if here.removeprefix("http://") != settings.api_bind:
        banner += f" (listening on {settings.api_bind})"
    if public_url != here:
        banner += f", reached by users at {public_url}"
    return f"{banner}  (docs: {here}/docs)"


@cli.command()
@click.option("--api-url", help="Defaults to CRIER_PUBLIC_URL.")
@click.option("--token", "bearer", help="Use this token instead of making one in the local database.")
@click.option("--delay", type=click.FloatRange(min=1), default=5.0, show_default=True, help="Seconds ahead.")
@click.pass_obj
def demo(settings: Settings, api_url: str | None, bearer: str | None, delay: float) -> None:
    """Schedule a post on two sandbox channels against a running API and watch it go out."""
    base_url = api_url or settings.public_url
    try:
        httpx.get(f"{base_url}/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as error:
        message = f"Crier is not ready at {base_url} ({error}). Start it with `make run`."
        raise click.ClickException(message) from error
    if bearer is None:
        bearer = _make_token(settings, "Demo", "owner@localhost", "crier demo")
    if not run_demo(CrierClient(base_url, bearer), timedelta(seconds=delay)):
        sys.exit(1)


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--workspace", help="The workspace to add the posts to; may be left out when there is only one."
)
@click.option(
    "--email",
    default="owner@localhost",
    show_default=True,
    help="The member who writes the posts: their role decides whether they wait for approval.",
)
@click.option("--dry-run", is_flag=True, help="Check every row and report, but store nothing.")
@click.pass_obj
def import_file(settings: Settings, file: Path, workspace: str | None, email: str, dry_run: bool) -> None:
    """Make posts from a CSV or JSON FILE, up to 5,000: all of them, or none and every problem.

    Columns: text, channels (names or ids, separated by |), time (YYYY-MM-DDTHH:MM, with an offset, now,
    or queue), timezone, labels, thread, recurrence, draft, media, and text:<network> for one network's
    text. Without --workspace, the posts go to the only workspace there is.
    """
    data = file.read_bytes()
    engine = create_db_engine(settings.resolved_database_url)
    upgrade(engine)
    try:
        source = read_source(data, guess_format(file.name, data))
        with create_session_factory(engine).begin() as session:
            chosen = _workspace_named(session, workspace)
            actor = _member_actor(session, chosen, email)
            with click.progressbar(length=len(source.rows), label="Checking ") as bar:
                plan = check_import(
                    session, NetworkRegistry(settings), actor, source, now=utcnow(), progress=bar.update
                )
            if dry_run:
                every = "it" if len(plan.posts) == 1 else "all"
                click.echo(
                    f"Checked {counted(len(plan.posts), 'row')}: {every} can be imported. "
                    "Nothing was stored (--dry-run)."
                )
                return
            with click.progressbar(length=len(plan.posts), label="Importing") as bar:
                made = store_import(session, plan, progress=bar.update)
    except InvalidInput as invalid:
        for problem in invalid.problems:
            click.echo(f"{describe_pointer(problem.pointer)}: {problem.detail}", err=True)
        click.echo(invalid.detail if isinstance(invalid, InvalidRows) else "Nothing was imported.", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    click.echo(f"Imported {counted(made.row_count, 'post')} into {chosen.name} (import {made.id}).")


def _workspace_named(session: Session, name: str | None) -> Workspace:
    """The workspace named, or the only one there is when no name is given."""
    if name is not None:
        workspace = session.scalars(select(Workspace).where(Workspace.name == name)).one_or_none()
        if workspace is None:
            raise click.ClickException(f"There is no workspace named {name!r}.")
        return workspace
    workspaces = session.scalars(select(Workspace).order_by(Workspace.name)).all()
    if len(workspaces) == 1:
        return workspaces[0]
    if not workspaces:
        raise click.ClickException(
            "There is no workspace yet: `crier token create --workspace NAME` makes one."
        )
    names = ", ".join(repr(workspace.name) for workspace in workspaces)
    raise click.ClickException(
        f"There are {len(workspaces)} workspaces ({names}): choose one with --workspace."
    )


def _member_actor(session: Session, workspace: Workspace, email: str) -> Actor:
    """The member acting, with what their role allows; refused when they are not a member."""
    member = session.scalars(
        select(Member).where(Member.workspace_id == workspace.id, Member.email == email)
    ).one_or_none()
    if member is None:
        raise click.ClickException(f"{email} is not a member of {workspace.name!r}: pass --email.")
    return Actor.of(workspace.id, member.id, member.role, Scope.ADMIN, member.name)


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
