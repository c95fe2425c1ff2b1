"""The `facebook` network's adapter: publishing as a Facebook Page through Meta's Graph API."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.facebook.channel import (
    CREDENTIAL_KEY,
    MEDIA_RULE,
    channel_of,
    draft_problems,
    first_comment,
    page_token,
    parse_settings,
    part_count,
    text_problems,
    token_problems,
)
from shared.networks.facebook.engagement import BATCH_SIZE, Counts
from shared.networks.facebook.finding import WHAT, PostFinder, normalised
from shared.networks.facebook.graph import GraphCalls, ObjectMissing
from shared.networks.facebook.inbox import PageComments, post_of_comment
from shared.networks.facebook.oauth import Authorizations
from shared.networks.facebook.posting import Publisher
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.meta.comment_inbox import read_comments
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    Audience,
    AuthorizationStart,
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
    ReplyTarget,
    TextPreview,
)
from shared.networks.toolkit.answers import reading, required_text
from shared.networks.toolkit.calls import SERVER_TIMEOUT
from shared.networks.toolkit.parts import (
    Attempt,
    FindsPublished,
    publish_in_parts,
    refuse_before_sending,
    text_previews,
)
from shared.text.facebook import FACEBOOK_COMMENT_LIMIT, FACEBOOK_POST_LIMIT, facebook_length

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v24.0"
DEFAULT_DIALOG_URL = "https://www.facebook.com"


class FacebookNetwork(FindsPublished):
    """The `facebook` network's adapter: one per process, for every connected Page."""

    info = NetworkInfo(
        name="facebook",
        display_name="Facebook",
        text_limit=FACEBOOK_POST_LIMIT,
        text_unit="UTF-16 code units (an emoji outside the BMP counts 2)",
        supports_threads=False,
        supports_first_comment=True,
        media=MEDIA_RULE,
        metrics=("likes", "reposts", "replies", "views"),
        credential_keys=(CREDENTIAL_KEY,),
        can_find_published=True,
        can_delete=True,
        can_edit=True,
        # Meta publishes no posting quota for a Page, only call budgets (a Page token's business use case
        # limit, 4800 calls a day per engaged user, error 80001): a Page posting a few times an hour, as a
        # person would, stays far from them and from Facebook's spam checks.
        account_rate=Rate.per_hour(25, burst=5),
        engagement_batch_size=BATCH_SIZE,
        account_read_rate=Rate.per_minute(10, burst=5),
        # The comments on the Page's posts (shared.networks.facebook.inbox); Graph gives a Page no search.
        inbox=InboxAbilities(kinds=(InboxKind.REPLY,), can_reply=True, can_like=True, can_hide=True),
    )

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        graph_url: str = DEFAULT_GRAPH_URL,
        version: str = DEFAULT_VERSION,
        dialog_url: str = DEFAULT_DIALOG_URL,
        client_id: str | None = None,
        client_secret: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settle: timedelta = timedelta(minutes=2),
    ) -> None:
        self._calls = GraphCalls(
            outbound or Outbound(), SERVER_TIMEOUT, http=http, graph_url=graph_url, version=version
        )
        # A post's address on Facebook: facebook.com/{post-id} leads to it (`permalink_url` costs a read).
        self._permalink_base = dialog_url.rstrip("/")
        self._clock = clock
        self._finder = PostFinder(
            self._calls, permalink_base=self._permalink_base, clock=clock, settle=settle
        )
        self._publisher = Publisher(self._calls, self._finder, permalink_base=self._permalink_base)
        self._counts = Counts(self._calls)
        self._authorizations = Authorizations(
            self._calls,
            dialog_url=dialog_url,
            version=version,
            client_id=client_id,
            client_secret=client_secret,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> FacebookNetwork:
        return cls(
            Outbound.from_settings(settings),
            graph_url=settings.facebook_graph_url,
            version=settings.facebook_graph_version,
            dialog_url=settings.facebook_dialog_url,
            client_id=settings.facebook_client_id,
            client_secret=settings.facebook_client_secret,
        )

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return parse_settings(settings)[1]

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        return token_problems(credentials)

    def validate(self, draft: Draft) -> list[str]:
        return draft_problems(draft)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        if draft.reply_to is not None:
            # A reply is a comment: the comment's limit, and the problems validate() finds.
            return [
                TextPreview(
                    draft.text,
                    facebook_length(draft.text),
                    FACEBOOK_COMMENT_LIMIT,
                    tuple(self.validate(draft)),
                )
            ]
        previews = text_previews(
            draft,
            limit=FACEBOOK_POST_LIMIT,
            length=facebook_length,
            problems=lambda index, text: text_problems(text),
        )
        comment = first_comment(draft)
        if comment is not None:
            length = facebook_length(comment)
            problems = (
                (f"the first comment is {length} characters long; Facebook allows {FACEBOOK_COMMENT_LIMIT}",)
                if length > FACEBOOK_COMMENT_LIMIT
                else ()
            )
            previews.append(TextPreview(comment, length, FACEBOOK_COMMENT_LIMIT, problems))
        return previews

    # -- Publishing: the post, then its first comment (shared.networks.facebook.posting) ---------------

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        channel = channel_of(account.settings)
        token = page_token(account)
        refuse_before_sending(self.validate(draft), network="Facebook")
        make = self._publisher.part_maker(channel, token, draft, idempotency_key)
        return publish_in_parts(part_count(draft), make, published=published)

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """Whether the uncertain attempt made the post (and its first comment), read back from the Page:
        see shared.networks.facebook.finding."""
        channel = channel_of(account.settings)
        sent = self._finder.expected(idempotency_key, attempt.draft, attempt.attempted_at)
        return self._finder.find(
            channel, page_token(account), sent, attempt.last_attempted_at, attempt.published
        )

    # -- Reading, changing and removing posts --------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        return self._counts.engagement(page_token(account), external_ids)

    def fetch_audience(self, account: Account) -> Audience:
        return self._counts.audience(channel_of(account.settings), page_token(account))

    def edit(self, account: Account, external_id: str, draft: Draft) -> PublishedPart:
        """The post's new message (`POST /{post-id}` with `message`); its photos or link stay as they are."""
        refuse_before_sending(text_problems(draft.text), network="Facebook", what="text")
        answer = self._on_post("POST", account, external_id, write=True, data={"message": draft.text})
        if answer.get("success") is not True:
            raise Rejected(f"{WHAT} did not change post {external_id}")
        return PublishedPart(external_id=external_id, url=f"{self._permalink_base}/{external_id}")

    def reads_as(self, account: Account, external_id: str, draft: Draft) -> bool:
        post = self._on_post("GET", account, external_id, params={"fields": "id,message"})
        return normalised(str(post.get("message") or "")) == normalised(draft.text)

    def delete(self, account: Account, external_id: str) -> None:
        self._on_post("DELETE", account, external_id, write=True)

    def verify(self, account: Account) -> Profile:
        channel = channel_of(account.settings)
        page = self._calls.graph(
            "GET",
            (channel.page_id,),
            what=WHAT,
            token=page_token(account),
            params={"fields": "id,name,link,username"},
        )
        with reading(WHAT, write=False):
            page_id = str(page["id"])
            username = page.get("username")
            return Profile(
                handle=username if isinstance(username, str) and username else page_id,
                display_name=required_text(page["name"]),
                url=page.get("link") if isinstance(page.get("link"), str) else None,
            )

    # -- The engagement inbox: the comments on the Page's posts (shared.networks.facebook.inbox) ---------

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        return read_comments(self._comments(account), position, now=self._clock)

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """The post (`external_id`, or the post of the comment it names) and its comments, oldest first."""
        channel = channel_of(account.settings)
        post_id = (
            external_id
            if external_id.startswith(f"{channel.page_id}_")
            else post_of_comment(channel, external_id)
        )
        try:
            return self._comments(account).thread(post_id)
        except ObjectMissing as missing:
            raise PostGone(f"{WHAT}: post {post_id} does not exist (any more): {missing}") from None

    def like(self, account: Account, target: ReplyTarget, idempotency_key: str) -> None:
        """`POST /{comment-id}/likes` as the Page. A Page likes an object once: asking again after a lost
        answer likes nothing more, so the call is not a write whose answer must be reconciled."""
        answer = self._on_post("POST", account, target.external_id, path=("likes",))
        if answer.get("success") is not True:
            raise Rejected(f"{WHAT} did not like {target.external_id}")

    def hide_reply(self, account: Account, target: ReplyTarget, *, root: str | None) -> None:
        """`POST /{comment-id}` with `is_hidden=true`: hidden from everyone but its author and their
        friends; hiding it again changes nothing."""
        answer = self._on_post("POST", account, target.external_id, data={"is_hidden": "true"})
        if answer.get("success") is not True:
            raise Rejected(f"{WHAT} did not hide {target.external_id}")

    def _comments(self, account: Account) -> PageComments:
        return PageComments(
            self._calls,
            channel_of(account.settings),
            page_token(account),
            permalink_base=self._permalink_base,
        )

    def _on_post(
        self,
        method: str,
        account: Account,
        external_id: str,
        *,
        write: bool = False,
        path: tuple[str, ...] = (),
        **request: Any,
    ) -> dict[str, Any]:
        """A call on one of the Page's posts or comments (`path` an edge of it); PostGone when Graph says it
        is not there (any more)."""
        try:
            return self._calls.graph(
                method, (external_id, *path), what=WHAT, write=write, token=page_token(account), **request
            )
        except ObjectMissing as missing:
            raise PostGone(f"{WHAT}: post {external_id} does not exist (any more): {missing}") from None

    # -- Connecting a Page: Facebook Login, then the Page's token (shared.networks.facebook.oauth) ----

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        """Facebook Login's dialog; the challenge is not sent (see shared.networks.facebook.oauth)."""
        return self._authorizations.begin(channel_of(settings), redirect_uri=redirect_uri, state=state)

    def complete_authorization(
        self,
        settings: Mapping[str, Any],
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        return self._authorizations.complete(channel_of(settings), code=code, redirect_uri=redirect_uri)
