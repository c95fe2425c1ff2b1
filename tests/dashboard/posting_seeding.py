"""A team that writes posts: two sandbox channels (one with posting slots), a paused one, and a member of
each role, named, with a token each."""

from __future__ import annotations

from dataclasses import dataclass

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.channels.services import change_channel
from shared.workspaces.access import Actor, Role, Scope
from shared.workspaces.models import Member, Workspace
from shared.workspaces.services import get_or_add_member
from tests.factories import make_channel, make_member_token, make_workspace

WEEKDAY_SLOTS = {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass(frozen=True)
class PostingTeam:
    workspace: Workspace
    channels: list[Channel]  # two active sandbox channels
    paused: Channel
    editor: Member
    editor_token: str  # may publish and approve
    contributor: Member
    contributor_token: str  # may write; what they write waits for an approver
    viewer_token: str  # reads only


def seed_posting_team(services: Services, name: str = "Harbour Arts") -> PostingTeam:
    workspace, _ = make_workspace(services, f"{name} team")
    with services.sessions.begin() as session:
        editor = get_or_add_member(
            session, workspace, "editor@example.org", name="Mira Editor", role=Role.EDITOR
        )
        contributor = get_or_add_member(
            session, workspace, "contributor@example.org", name="Cody Contributor", role=Role.CONTRIBUTOR
        )
    channels = [
        make_channel(services, workspace, f"{name} sandbox", posting_schedule=WEEKDAY_SLOTS),
        make_channel(services, workspace, f"{name} news"),
    ]
    paused = make_channel(services, workspace, f"{name} archive")
    with services.sessions.begin() as session:
        change_channel(session, Actor.system(workspace.id), session.get_one(Channel, paused.id), paused=True)
    return PostingTeam(
        workspace=workspace,
        channels=channels,
        paused=paused,
        editor=editor,
        editor_token=make_member_token(services, workspace, Role.EDITOR, Scope.WRITE),
        contributor=contributor,
        contributor_token=make_member_token(services, workspace, Role.CONTRIBUTOR, Scope.WRITE),
        viewer_token=make_member_token(services, workspace, Role.VIEWER, Scope.READ),
    )
