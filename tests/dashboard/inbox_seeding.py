"""A workspace whose sandbox channel published a post that people answered, its inbox read by Crier."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.db import utcnow
from shared.deliveries.models import Delivery
from shared.inbox.models import InboxItem, InboxSource, SourceKind
from shared.inbox.reading import read_due_sources
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.workspaces.access import Role, Scope
from shared.workspaces.models import Member, Workspace
from shared.workspaces.services import get_or_add_member
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_member_token, make_post, make_workspace, read_delivery
from tests.inbox.conftest import Audience

POST_TEXT = "Our spring book fair opens on Saturday."
# Who answers, in this order: three replies to the post, then a mention of the account.
REPLIES = [
    ("ada", "When does the book fair close?"),
    ("grace", "Will there be children's books?"),
    ("linus", "See you there!"),
]
MENTION = ("margaret", "Book lovers, look at")


@dataclass(frozen=True)
class InboxSeed:
    workspace: Workspace
    channel: Channel
    published: Delivery
    audience: Audience
    editor: Member
    editor_token: str  # may reply and publish: an editor's write-scoped token
    contributor: Member
    contributor_token: str  # may reply, which then waits for an approver
    viewer_token: str  # reads only
    reply_ids: list[str]  # the sandbox's ids of the replies, in the order written
    mention_id: str


def seed_inbox(services: Services, name: str = "Riverside Library") -> InboxSeed:
    """The post out on the sandbox, three replies and a mention written there, and the inbox read once."""
    workspace, _ = make_workspace(services, f"{name} team")
    with services.sessions.begin() as session:
        editor = get_or_add_member(
            session, workspace, "editor@example.org", name="Mira Editor", role=Role.EDITOR
        )
        contributor = get_or_add_member(
            session, workspace, "contributor@example.org", name="Cody Contributor", role=Role.CONTRIBUTOR
        )
    editor_token = make_member_token(services, workspace, Role.EDITOR, Scope.WRITE)
    contributor_token = make_member_token(services, workspace, Role.CONTRIBUTOR, Scope.WRITE)
    viewer_token = make_member_token(services, workspace, Role.VIEWER, Scope.READ)
    channel = make_channel(services, workspace, name)
    post = make_post(services, workspace, [channel], text=POST_TEXT)
    publish_what_is_due(services)
    published = read_delivery(services, post.deliveries[0].id)
    assert published.external_id is not None
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    audience = Audience(network.store, channel.handle)
    reply_ids = [audience.reply(published.external_id, text, author=author) for author, text in REPLIES]
    mention_id = audience.mention(MENTION[1], author=MENTION[0])
    assert read_due_sources(services) == len(REPLIES) + 1
    return InboxSeed(
        workspace=workspace,
        channel=channel,
        published=published,
        audience=audience,
        editor=editor,
        editor_token=editor_token,
        contributor=contributor,
        contributor_token=contributor_token,
        viewer_token=viewer_token,
        reply_ids=reply_ids,
        mention_id=mention_id,
    )


def read_sources_now(services: Services) -> int:
    """Read every inbox and stream at once, whenever each was due: what the scheduler does in time."""
    with services.sessions.begin() as session:
        session.execute(update(InboxSource).values(next_read_at=utcnow()))
    return read_due_sources(services)


def item_of(services: Services, external_id: str) -> InboxItem:
    """The item a channel's inbox holds for the network's post (a stream may hold the same post too)."""
    with services.sessions() as session:
        return session.scalars(
            select(InboxItem)
            .join(InboxSource, InboxSource.id == InboxItem.source_id)
            .where(InboxItem.external_id == external_id, InboxSource.kind == SourceKind.INBOX)
        ).one()


def item_id_of(services: Services, external_id: str) -> uuid.UUID:
    return item_of(services, external_id).id
