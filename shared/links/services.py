"""Rewriting a post's links: UTM parameters from presets, then Crier's own short links, which count clicks.

The rewriting is per delivery, so each network's copy of a post carries its own tags and its own links, and
the clicks counted are that delivery's. The text a preview shows and counts is rewritten the same way, with
a placeholder link of the same length where a short link will be.

UTM templates may use these placeholders (see UTM_PLACEHOLDERS); `{{` and `}}` are literal braces:
- `{network}` the channel's network as Crier names it (`mastodon`, `bluesky`),
- `{channel}` the channel's name as a slug (`Acme on Mastodon` gives `acme-on-mastodon`),
- `{post_id}` the post's id,
- `{label}` the post's labels, in alphabetical order, comma-separated,
- `{date}` the day the delivery is scheduled for, in UTC (`2026-11-26`).
A parameter whose template comes out empty (`{label}` on a post without labels) is left out.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, quote, urlencode

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.orm import Session

from shared.audit.services import record
from shared.channels.models import Channel
from shared.db import UTCDateTime, affected_rows, insert_on_conflict
from shared.errors import InvalidInput, NotFound, Problem
from shared.links.models import LinkSettings, ShortLink, ShortLinkVisit
from shared.networks.ports import Draft
from shared.text import link_spans
from shared.workspaces.access import Actor

UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

UTM_PLACEHOLDERS: Mapping[str, str] = {
    "network": "the channel's network as Crier names it",
    "channel": "the channel's name as a slug",
    "post_id": "the post's id",
    "label": "the post's labels, in alphabetical order, comma-separated",
    "date": "the day the delivery is scheduled for, in UTC",
}

SHORT_LINK_PATH = "/l/"
# A client's clicks on one link within this long count once (CRIER_LINK_CLICK_WINDOW_SECONDS).
CLICK_WINDOW = timedelta(hours=1)
CODE_LENGTH = 8
# Letters and digits only: the rest of the URL-safe alphabet, `-` and `_`, is markup where posts go
# (`_italic_` in Discord and Slack) and easily lost when a link is copied by hand. 62**8 is about 2**47.6.
CODE_ALPHABET = string.ascii_letters + string.digits
MAX_CODE_ATTEMPTS = 5

# A preview writes nothing, yet its count must be exact, and networks that count a link by what is written
# (Bluesky, Discord) count every character of it. So where a short link will be, the preview shows a link
# of exactly the length a real one will have: the same address, the same path, a code of the same length.
PREVIEW_CODE = "x" * CODE_LENGTH
# A draft's post has no id yet; this stands in for one in `{post_id}`, at the same length, for that reason.
PREVIEW_POST_ID = str(uuid.UUID(int=0))

_WEB_SCHEMES = ("http://", "https://")
_NOT_IN_A_SLUG = re.compile(r"[\W_]+")


class RulesSource(StrEnum):
    CHANNEL = "channel"  # the channel's own override
    WORKSPACE = "workspace"  # the workspace's default
    NONE = "none"  # nothing is set: links are left as written


@dataclass(frozen=True)
class LinkRules:
    """What happens to the links of a channel's posts, and where that was decided."""

    shorten: bool = False
    utm: Mapping[str, str] = field(default_factory=dict)  # parameter → template
    source: RulesSource = RulesSource.NONE

    @property
    def rewrites(self) -> bool:
        return self.shorten or bool(self.utm)


# --- Presets -------------------------------------------------------------------------------------------


def effective_link_settings(
    session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID | None
) -> LinkRules:
    """The channel's override, else the workspace's default, else links left alone.

    An override replaces the default whole rather than key by key, so what a channel shows is what applies.
    """
    if channel_id is None:
        return _effective(_link_settings_rows(session, workspace_id, []), None)
    return effective_link_settings_of(session, workspace_id, [channel_id])[channel_id]


def effective_link_settings_of(
    session: Session, workspace_id: uuid.UUID, channel_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, LinkRules]:
    """effective_link_settings of each channel, read in one query."""
    rows = _link_settings_rows(session, workspace_id, channel_ids)
    return {channel_id: _effective(rows, channel_id) for channel_id in channel_ids}


def _link_settings_rows(
    session: Session, workspace_id: uuid.UUID, channel_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID | None, LinkSettings]:
    rows = session.scalars(
        select(LinkSettings).where(
            LinkSettings.workspace_id == workspace_id,
            (LinkSettings.channel_id.is_(None)) | (LinkSettings.channel_id.in_(channel_ids)),
        )
    )
    return {row.channel_id: row for row in rows}


def _effective(
    by_channel: Mapping[uuid.UUID | None, LinkSettings], channel_id: uuid.UUID | None
) -> LinkRules:
    if channel_id is not None and channel_id in by_channel:
        return _rules_of(by_channel[channel_id], RulesSource.CHANNEL)
    if None in by_channel:
        return _rules_of(by_channel[None], RulesSource.WORKSPACE)
    return LinkRules()


def channel_link_settings(session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID) -> LinkRules:
    """What applies to one of the workspace's channels; NotFound for a channel of another workspace."""
    _check_channel(session, workspace_id, channel_id)
    return effective_link_settings(session, workspace_id, channel_id)


def save_link_settings(
    session: Session,
    actor: Actor,
    channel_id: uuid.UUID | None,
    *,
    shorten: bool,
    utm: Mapping[str, str],
) -> LinkRules:
    """Set the workspace's default (no channel) or a channel's override, replacing what was there."""
    if channel_id is not None:
        _check_channel(session, actor.workspace_id, channel_id)
    check_utm_templates(utm)
    # Insert-if-absent first, so two saves at once both land on the one row instead of one failing on the
    # unique index; the row is then locked (PostgreSQL) while it is changed.
    session.execute(
        insert_on_conflict(session, LinkSettings)
        .values(workspace_id=actor.workspace_id, channel_id=channel_id)
        .on_conflict_do_nothing()
    )
    settings = session.scalars(
        select(LinkSettings)
        .where(LinkSettings.workspace_id == actor.workspace_id, LinkSettings.channel_id == channel_id)
        .with_for_update()
    ).one()
    settings.shorten = shorten
    settings.utm = {parameter: utm[parameter] for parameter in UTM_PARAMETERS if parameter in utm}
    session.flush()
    subject_type, subject_id = ("channel", channel_id) if channel_id else ("workspace", actor.workspace_id)
    record(session, actor, "link_settings.saved", subject_type, subject_id, shorten=shorten, utm=settings.utm)
    source = RulesSource.CHANNEL if channel_id else RulesSource.WORKSPACE
    return _rules_of(settings, source)


def remove_channel_link_settings(session: Session, actor: Actor, channel_id: uuid.UUID) -> None:
    """Drop a channel's override, so the workspace's default applies to it again."""
    _check_channel(session, actor.workspace_id, channel_id)
    removed = session.execute(
        delete(LinkSettings).where(
            LinkSettings.workspace_id == actor.workspace_id, LinkSettings.channel_id == channel_id
        )
    )
    if affected_rows(removed):
        record(session, actor, "link_settings.removed", "channel", channel_id)


def check_utm_templates(utm: Mapping[str, str]) -> None:
    """InvalidInput naming each parameter that is no UTM parameter or whose template Crier cannot fill."""
    problems = []
    for parameter, template in utm.items():
        pointer = f"/utm/{parameter}"
        if parameter not in UTM_PARAMETERS:
            problems.append(Problem(pointer, f"Not a UTM parameter; these are: {', '.join(UTM_PARAMETERS)}."))
        else:
            problems += [Problem(pointer, detail) for detail in _template_problems(template)]
    if problems:
        raise InvalidInput(problems)


def _template_problems(template: str) -> list[str]:
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        return [f"Not a template ({error}); write a literal brace twice: {{{{ or }}}}."]
    known = ", ".join(f"{{{name}}}" for name in UTM_PLACEHOLDERS)
    problems = []
    for name, spec, conversion in fields:
        if name not in UTM_PLACEHOLDERS:
            problems.append(f"{{{name}}} is not a placeholder Crier fills; these are: {known}.")
        elif spec or conversion:
            problems.append(f"{{{name}}} takes no format or conversion: write it as {{{name}}}.")
    return problems


def _rules_of(settings: LinkSettings, source: RulesSource) -> LinkRules:
    return LinkRules(shorten=settings.shorten, utm=dict(settings.utm), source=source)


def _check_channel(session: Session, workspace_id: uuid.UUID, channel_id: uuid.UUID) -> None:
    found = session.scalar(
        select(Channel.id).where(Channel.id == channel_id, Channel.workspace_id == workspace_id)
    )
    if found is None:
        raise NotFound("channel", channel_id)


# --- Rewriting -----------------------------------------------------------------------------------------


def utm_context(
    *,
    network: str,
    channel_name: str,
    post_id: uuid.UUID | None,
    scheduled_at: datetime,
    labels: Iterable[str] = (),
) -> dict[str, str]:
    """What each UTM placeholder stands for in one delivery; a preview's draft has no post id yet."""
    return {
        "network": network,
        "channel": _NOT_IN_A_SLUG.sub("-", channel_name.casefold()).strip("-"),
        "post_id": str(post_id) if post_id is not None else PREVIEW_POST_ID,
        "label": ",".join(sorted(labels)),
        "date": scheduled_at.astimezone(UTC).date().isoformat(),
    }


def rewrite_links(
    text: str, rules: LinkRules, *, context: Mapping[str, str], shorten: Callable[[str], str]
) -> str:
    """`text` with each web link tagged with the rules' UTM parameters and, if they say so, shortened.

    `context` fills the templates (see utm_context); `shorten` turns a tagged link into the short one to
    write instead: a delivery's own (shorten_for_delivery) when publishing, a placeholder when previewing.
    """
    if not rules.rewrites:
        return text
    parameters = render_utm(rules.utm, context)
    pieces: list[str] = []
    written_up_to = 0
    # The links Mastodon would see are the links: its detector wants a scheme, so a bare `example.com`, which
    # the author may not have meant as a link, is left as written.
    for start, end in link_spans(text):
        link = text[start:end]
        if not link.lower().startswith(_WEB_SCHEMES):
            continue
        target = apply_utm(link, parameters)
        pieces += [text[written_up_to:start], shorten(target) if rules.shorten else target]
        written_up_to = end
    pieces.append(text[written_up_to:])
    return "".join(pieces)


def rewrite_draft(
    draft: Draft, rules: LinkRules, *, context: Mapping[str, str], shorten: Callable[[str], str]
) -> Draft:
    """The draft with rewrite_links applied to its text and to each reply of its thread."""
    if not rules.rewrites:
        return draft

    def rewrite(text: str) -> str:
        return rewrite_links(text, rules, context=context, shorten=shorten)

    return replace(draft, text=rewrite(draft.text), thread=tuple(rewrite(item) for item in draft.thread))


def render_utm(templates: Mapping[str, str], context: Mapping[str, str]) -> dict[str, str]:
    """Each parameter's template filled from `context`; parameters that come out empty are left out."""
    rendered = {parameter: template.format_map(context) for parameter, template in templates.items()}
    return {parameter: value for parameter, value in rendered.items() if value}


def apply_utm(url: str, params: Mapping[str, str]) -> str:
    """`url` with `params` added after its own query, before its fragment; a parameter it has is kept.

    The author's own utm_campaign on a link is a decision about that link (a partner's campaign, a
    newsletter's tracking) that a workspace-wide preset must not undo. The rest of the URL is kept byte for
    byte: the query is appended to rather than parsed and re-encoded (which would change `+`, `%2F` and
    the order of parameters, and break links that are signed), and it is spliced rather than put back
    together by urlunsplit, which drops an empty `?` or `#`.
    """
    before_fragment, hash_mark, fragment = url.partition("#")
    address, _, query = before_fragment.partition("?")
    present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    added = [(name, value) for name, value in params.items() if name not in present]
    if not added:
        return url
    separator = "&" if query and not query.endswith("&") else ""
    return f"{address}?{query}{separator}{urlencode(added, quote_via=quote)}{hash_mark}{fragment}"


# --- Short links ---------------------------------------------------------------------------------------


def short_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}{SHORT_LINK_PATH}{code}"


def preview_short_url(url: str, public_url: str) -> str:
    """What a preview shows where a short link will be: a placeholder of the real one's length (see above)."""
    return short_url(public_url, PREVIEW_CODE)


def shorten_for_delivery(
    session: Session, workspace_id: uuid.UUID, delivery_id: uuid.UUID, url: str, public_url: str
) -> str:
    """The delivery's short link to `url`: the one it already has (a retry rewrites again), or a new one."""
    digest = hashlib.sha256(url.encode()).hexdigest()
    existing = select(ShortLink.code).where(
        ShortLink.delivery_id == delivery_id, ShortLink.target_digest == digest
    )
    code = session.scalar(existing)
    attempts = 0
    while code is None:
        if attempts == MAX_CODE_ATTEMPTS:
            raise RuntimeError(f"no free short-link code after {attempts} tries: are codes too short?")
        attempts += 1
        # Nothing is inserted either when another writer made this delivery's link to `url` first (the
        # select then finds theirs) or when the code is taken (it finds none, and a new code is tried).
        session.execute(
            insert_on_conflict(session, ShortLink)
            .values(
                code=new_code(),
                workspace_id=workspace_id,
                delivery_id=delivery_id,
                target_url=url,
                target_digest=digest,
            )
            .on_conflict_do_nothing()
        )
        code = session.scalar(existing)
    return short_url(public_url, code)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def record_click(
    session: Session,
    code: str,
    now: datetime,
    *,
    visitor: str | None = None,
    window: timedelta = CLICK_WINDOW,
) -> str | None:
    """Count one click on the link with this code; its target, or None when there is no such link.

    A `visitor` (a digest naming the client, see visitor_digest) is counted once per `window` on each
    link: a reader who clicks again, reloads, or has a script click a hundred times counts once.
    """
    found = session.execute(select(ShortLink.id, ShortLink.target_url).where(ShortLink.code == code)).first()
    if found is None:
        return None
    link_id, target = found
    if visitor is not None and not _first_visit_in_window(session, link_id, visitor, now, window):
        return str(target)
    # One UPDATE: the database adds one for each click, so concurrent clicks all count, where reading the
    # count and writing it back would lose those that read the same number.
    session.execute(
        update(ShortLink)
        .where(ShortLink.id == link_id)
        .values(
            clicks=ShortLink.clicks + 1,
            first_clicked_at=func.coalesce(ShortLink.first_clicked_at, literal(now, UTCDateTime())),
            last_clicked_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return str(target)


def visitor_digest(address: str, user_agent: str) -> str:
    """What names a client among clicks: a digest of its address and user agent, never either of them."""
    return hashlib.sha256(f"{address}\n{user_agent}".encode("utf-8", "replace")).hexdigest()


def _first_visit_in_window(
    session: Session, link_id: uuid.UUID, visitor: str, now: datetime, window: timedelta
) -> bool:
    """Record the visitor's click on the link; whether it is their first in the window (and so counts)."""
    # What is past its window is forgotten as clicks come in, so the table holds one window of clients.
    session.execute(delete(ShortLinkVisit).where(ShortLinkVisit.counted_at <= now - window))
    # One statement, so that two clicks at once cannot both be first: the second waits for the first's row
    # (PostgreSQL) or for its transaction (SQLite), then finds it within the window and changes nothing.
    claimed = session.scalar(
        insert_on_conflict(session, ShortLinkVisit)
        .values(short_link_id=link_id, visitor=visitor, counted_at=now)
        .on_conflict_do_update(
            index_elements=["short_link_id", "visitor"],
            set_={"counted_at": now},
            where=ShortLinkVisit.counted_at <= now - window,
        )
        .returning(ShortLinkVisit.visitor)
    )
    return claimed is not None


def find_target(session: Session, code: str) -> str | None:
    """The link's target without counting a click: for link-preview robots and HEAD requests."""
    return session.scalar(select(ShortLink.target_url).where(ShortLink.code == code))


def clicks_by_delivery(session: Session, delivery_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Clicks on each delivery's short links. A delivery without any is left out: it has no count, not 0."""
    rows = session.execute(
        select(ShortLink.delivery_id, func.sum(ShortLink.clicks))
        .where(ShortLink.delivery_id.in_(delivery_ids))
        .group_by(ShortLink.delivery_id)
    )
    return {delivery_id: int(total) for delivery_id, total in rows if delivery_id is not None}


def links_of_delivery(session: Session, delivery_id: uuid.UUID) -> Sequence[ShortLink]:
    """The delivery's short links, oldest first (shared.deliveries.services.delivery_links checks whose
    delivery it is first)."""
    return session.scalars(
        select(ShortLink)
        .where(ShortLink.delivery_id == delivery_id)
        .order_by(ShortLink.created_at, ShortLink.id)
    ).all()
