"""The `nntp` network's adapter: a post and its thread as Usenet articles, posted over NNTP (RFC 3977).

Each part is an article under a Message-ID Crier chose before sending it (`articles`), so an uncertain
post is settled exactly with STAT, and a repeated one is refused by the server as a duplicate, which is
proof it was posted. Thread items are follow-ups: each names the parts before it in References. A reply
from the inbox is a follow-up to another's article (`targets`); the inbox is the follow-ups to the
account's articles, read from the overview (`inbox`).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.nntp.answers import POSTED, is_duplicate, network_error
from shared.networks.nntp.articles import article, article_url, cancel_article, message_id
from shared.networks.nntp.channel import (
    ChannelSettings,
    credentials_problems,
    draft_problems,
    login_of,
    parse_settings,
)
from shared.networks.nntp.client import NntpFailure, Session, Stage
from shared.networks.nntp.followups import count_followups
from shared.networks.nntp.inbox import PAGE_ARTICLES, read_page, read_thread
from shared.networks.nntp.targets import MESSAGE_ID, FollowUp, follow_up
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    AuthExpired,
    Draft,
    Engagement,
    InboxAbilities,
    InboxKind,
    NetworkInfo,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    Rejected,
    TextPreview,
)
from shared.networks.toolkit.parts import (
    Attempt,
    FindsPublished,
    find_in_parts,
    publish_in_parts,
    text_previews,
)
from shared.text.graphemes import grapheme_count
from shared.text.nntp import article_body, subject_of


class NntpNetwork(FindsPublished):
    """The `nntp` network's adapter: one per process, for every news server and channel."""

    info = NetworkInfo(
        name="nntp",
        display_name="Usenet (NNTP)",
        # RFC 5536 sets no length; each server its own (INN: localmaxartsize, 1,000,000 bytes by default).
        text_limit=None,
        text_unit="graphemes (no limit; a line over 998 UTF-8 bytes is wrapped)",
        supports_threads=True,
        media=None,
        # Follow-ups, read from the overview's References: all a news server tells of a post's reception.
        metrics=("replies",),
        # AUTHINFO USER/PASS (RFC 4643) when the server asks for it; many let anyone on their network post.
        credential_keys=(),
        # AUTHINFO, for a server that asks: both or neither (check_credentials).
        optional_credential_keys=("username", "password"),
        can_find_published=True,
        # A cancel control message (RFC 5537 section 5.3) with the Cancel-Key of the article's Cancel-Lock
        # (RFC 8315); INN honours it by default. A server that ignores cancels is told by STAT afterwards.
        can_delete=True,
        # Usenet has no edit: Supersedes makes a new article with a new Message-ID.
        can_edit=False,
        # RFC 3977 sets no pace. Servers do: INN's nnrpd backs off fast posters (backoff*), and public
        # servers allow a few dozen posts a day. Crier keeps an account well under: 20 an hour, 5 at once.
        account_rate=Rate.per_hour(20, burst=5),
        # One overview scan answers for every post of a channel at once.
        engagement_batch_size=None,
        account_read_rate=Rate.per_hour(60, burst=10),
        # Follow-ups to the account's articles, found by References; a reply is a follow-up. Usenet has
        # no search across servers, nothing like a like, and no hiding another's article.
        inbox=InboxAbilities(kinds=(InboxKind.REPLY,), can_reply=True),
    )

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        secret_keys: Sequence[str] = (),
        tls_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        inbox_page: int = PAGE_ARTICLES,
    ) -> None:
        self._outbound = outbound or Outbound()
        # The first key locks new articles; every key is offered when cancelling (see articles).
        self._secret_keys = tuple(secret_keys)
        self._tls_context = tls_context or ssl.create_default_context()
        self._clock = clock
        # Article numbers read per group in one read_inbox.
        self._inbox_page = inbox_page

    @classmethod
    def from_settings(cls, settings: Settings) -> NntpNetwork:
        keys = [key.strip() for key in (settings.secret_key or "").split(",") if key.strip()]
        return cls(Outbound.from_settings(settings), secret_keys=keys)

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_settings(settings, self._outbound.policy)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        return credentials_problems(credentials)

    def validate(self, draft: Draft) -> list[str]:
        return _problems(draft)[1]

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        """Each text as its article's body: lines over 998 octets wrapped where they will be."""
        bodies = Draft(
            text=article_body(draft.text), thread=tuple(article_body(text) for text in draft.thread)
        )
        return text_previews(bodies, limit=None, length=grapheme_count, problems=lambda _, __: ())

    # -- Publishing and finding -----------------------------------------------------------------------

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """Post the text, then each thread item as a follow-up to the parts before it, in one session."""
        channel = self._channel(account)
        parent, problems = _problems(draft)
        if problems:
            raise Rejected("Usenet: not sent: " + "; ".join(problems))
        texts = (draft.text, *draft.thread)
        option = draft.options.get("subject")
        if parent is not None and not isinstance(option, str):
            subject = parent.subject  # `article` puts "Re: " in front, once
        else:
            subject = subject_of(draft.text, option if isinstance(option, str) else None)
        above = list(parent.references) if parent else []
        with self._session(account, channel, lazily=True) as session_of:

            def post(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
                part_id = message_id(idempotency_key, index, channel.message_id_domain)
                lines = article(
                    channel,
                    message_id_=part_id,
                    subject=subject,
                    text=texts[index],
                    references=[*above, *(part.external_id for part in parts)],
                    newsgroups=parent.newsgroups if parent else (),
                    now=self._clock(),
                    secret=self._secret_keys[0] if self._secret_keys else None,
                )
                with _as_network_error():
                    reply = session_of().post(lines)
                    if reply.code != POSTED and not is_duplicate(reply):
                        raise NntpFailure(Stage.SENT, "the server refused the article", reply)
                return PublishedPart(part_id, article_url(part_id))

            return publish_in_parts(len(texts), post, published=published)

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """The post and each follow-up at their Message-IDs, by STAT, up to the first the server does not
        have: certain either way, since Crier chose the Message-IDs."""
        channel = self._channel(account)
        replies = len(attempt.draft.thread) if attempt.draft is not None else 0
        with self._session(account, channel) as session_of:
            session = session_of()

            def find(index: int) -> PublishedPart | None:
                part_id = message_id(idempotency_key, index, channel.message_id_domain)
                with _as_network_error():
                    found = session.stat(part_id)
                return PublishedPart(part_id, article_url(part_id)) if found else None

            return find_in_parts(1 + replies, find)

    # -- After publishing -----------------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Each post's follow-ups among its groups' recent articles, as replies (see followups)."""
        channel = self._channel(account)
        ids = [external_id for external_id in external_ids if MESSAGE_ID.fullmatch(external_id)]
        if not ids:
            return {}
        with self._session(account, channel) as session_of, _as_network_error():
            return count_followups(session_of(), channel.newsgroups, ids)

    def delete(self, account: Account, external_id: str) -> None:
        """Cancel the article (RFC 5537 section 5.3), then make sure the server acted on the cancel."""
        if not MESSAGE_ID.fullmatch(external_id):
            raise Rejected(f"Usenet: {external_id!r} is not a Message-ID this adapter posted.")
        channel = self._channel(account)
        with self._session(account, channel) as session_of, _as_network_error():
            session = session_of()
            if not session.stat(external_id):
                raise PostGone(f"Usenet: the server no longer has {external_id}")
            _, lines = cancel_article(
                channel, target=external_id, now=self._clock(), secrets=self._secret_keys
            )
            reply = session.post(lines)
            if reply.code != POSTED and not is_duplicate(reply):
                raise NntpFailure(Stage.SENT, "the server refused the cancel", reply)
            if session.stat(external_id):
                raise Rejected(
                    "Usenet: the server took the cancel but keeps the article: it does not act on cancels "
                    "(INN acts on one with the article's Cancel-Key; other servers may ignore them all)"
                )

    def verify(self, account: Account) -> Profile:
        """Sign in as the channel does and look each of its groups up."""
        channel = self._channel(account)
        with self._session(account, channel) as session_of, _as_network_error():
            session = session_of()
            missing = [group for group in channel.newsgroups if session.group(group) is None]
        if missing:
            raise Rejected(f"Usenet: {channel.server.host} has no group {', '.join(missing)}")
        return Profile(handle=channel.address, display_name=channel.name or None, url=None)

    # -- The inbox ------------------------------------------------------------------------------------

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        """Follow-ups by others to the account's articles, after `position`, in each of its groups (see
        shared.networks.nntp.inbox)."""
        channel = self._channel(account)
        with self._session(account, channel) as session_of, _as_network_error():
            return read_page(session_of(), channel, position, page=self._inbox_page, now=self._clock)

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """The article's References chain and the follow-ups to its thread the overview shows, oldest
        first."""
        if not MESSAGE_ID.fullmatch(external_id):
            raise Rejected(f"Usenet: {external_id!r} is not a Message-ID.")
        channel = self._channel(account)
        with self._session(account, channel) as session_of, _as_network_error():
            return read_thread(session_of(), channel, external_id, now=self._clock)

    # -- Sessions -------------------------------------------------------------------------------------

    def _channel(self, account: Account) -> ChannelSettings:
        channel, problems = parse_settings(account.settings, self._outbound.policy)
        if channel is None:
            raise Rejected("Usenet: the channel's settings are not usable: " + "; ".join(problems))
        problems = credentials_problems(account.credentials)
        if problems:
            raise AuthExpired("Usenet: " + "; ".join(problems))
        return channel

    @contextmanager
    def _session(
        self, account: Account, channel: ChannelSettings, *, lazily: bool = False
    ) -> Iterator[Callable[[], Session]]:
        """A session for the account, opened on first use when `lazily` (so a failure to open it is a
        failure of the first part); QUIT when all went well, a plain close when not."""
        opened: list[Session] = []

        def session_of() -> Session:
            if not opened:
                with _as_network_error():
                    opened.append(self._open(account, channel))
            return opened[0]

        if not lazily:
            session_of()
        try:
            yield session_of
        except BaseException:
            for session in opened:
                session.close()
            raise
        for session in opened:
            session.quit()

    def _open(self, account: Account, channel: ChannelSettings) -> Session:
        username, password = login_of(account.credentials)
        return Session.open(
            channel.server,
            self._outbound.policy,
            seconds=self._outbound.deadline_seconds,
            max_answer_bytes=self._outbound.max_answer_bytes,
            tls_context=self._tls_context,
            credentials={"username": username, "password": password} if username and password else None,
            # As plain http is: only to a server the operator named (CRIER_ALLOWED_PRIVATE_HOSTS).
            plain_password_allowed=self._outbound.policy.allows_plain_http(channel.server.host),
        )


def _problems(draft: Draft) -> tuple[FollowUp | None, list[str]]:
    """The follow-up a reply makes (None for a new post), and what keeps the draft from being sent."""
    reply, problems = follow_up(draft.reply_to) if draft.reply_to is not None else (None, [])
    return reply, [*draft_problems(draft), *problems]


@contextmanager
def _as_network_error() -> Iterator[None]:
    """An NNTP failure inside, raised as the NetworkError it means (shared.networks.nntp.answers)."""
    try:
        yield
    except NntpFailure as failure:
        raise network_error(failure) from failure
