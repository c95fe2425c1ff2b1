"""The `threads` network's adapter: publishing to Meta's Threads, finding, counting and deleting posts, and
connecting accounts through the operator's Threads app."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.meta.comment_inbox import read_comments
from shared.networks.meta.graph_errors import object_missing
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
from shared.networks.threads import channel as channels
from shared.networks.threads.channel import (
    MEDIA_RULE,
    channel_of,
    draft_problems,
)
from shared.networks.threads.containers import Containers, Recorded, Waiting
from shared.networks.threads.engagement import Insights
from shared.networks.threads.errors import ThreadsDialect
from shared.networks.threads.finding import Finder
from shared.networks.threads.graph import Graph
from shared.networks.threads.inbox import AccountReplies
from shared.networks.threads.oauth import Authorizations
from shared.networks.threads.quota import check_quota
from shared.networks.toolkit.answers import answer_object, reading, required_text, storable_profile
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.parts import (
    Attempt,
    FindsPublished,
    MakePart,
    PartByPart,
    part_key,
    refuse_before_sending,
    text_previews,
)
from shared.networks.toolkit.tokens import stored_expiry
from shared.text.threads import THREADS_TEXT_LIMIT, text_problems, threads_length

# An uncertain post missing from the account's threads is taken as not made once the attempt is this old.
DEFAULT_SETTLE = timedelta(minutes=2)
DEFAULT_WAITING = Waiting()
PROFILE_FIELDS = "id,username,name"


class ThreadsNetwork(PartByPart, FindsPublished):
    """The `threads` network's adapter: one per process, for every Threads account."""

    info = NetworkInfo(
        name="threads",
        display_name="Threads",
        text_limit=THREADS_TEXT_LIMIT,
        text_unit="characters (an emoji counts its UTF-8 bytes)",
        supports_threads=True,
        media=MEDIA_RULE,
        metrics=("views", "likes", "replies", "reposts", "quotes"),
        credential_keys=("access_token",),
        optional_credential_keys=("user_id", "expires_at"),
        can_find_published=True,
        # DELETE /{threads-media-id} (posts/delete-posts, threads_delete); Threads has no edit in its API.
        can_delete=True,
        can_edit=False,
        # 250 API-published posts per profile in a moving 24 hours (overview, "Rate limiting"): a bucket of
        # 10 that refills 10 an hour spends at most 10 + 24 * 10 = 250 in any 24 hours. Replies have their
        # own 1,000 and are checked against Meta's count before a thread is begun.
        account_rate=Rate.per_hour(10, burst=10),
        # A post's insights are one request each, so one post a batch: the read rate then counts requests.
        # Calls: 4,800 times the profile's impressions (at least 10) in 24 hours, about 33 a minute at the
        # least; counts take a third of that.
        engagement_batch_size=1,
        account_read_rate=Rate.per_minute(10, burst=10),
        # The replies under the account's posts (shared.networks.threads.inbox). Threads has no like in its
        # API; its keyword search needs a permission Meta grants only after review.
        inbox=InboxAbilities(kinds=(InboxKind.REPLY,), can_reply=True, can_like=False, can_hide=True),
    )

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        api_url: str = "https://graph.threads.net",
        authorize_url: str = "https://threads.net/oauth/authorize",
        client_id: str | None = None,
        client_secret: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        waiting: Waiting = DEFAULT_WAITING,
        settle: timedelta = DEFAULT_SETTLE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        calls = Calls(outbound or Outbound(), SERVER_TIMEOUT, dialect=ThreadsDialect(), http=http)
        self._graph = Graph(calls, api_url)
        self._clock = clock
        recorded = Recorded(clock)
        self._containers = Containers(self._graph, recorded, waiting, sleep=sleep)
        self._finder = Finder(self._graph, self._containers, recorded, clock=clock, settle=settle)
        self._insights = Insights(self._graph)
        self._authorizations = Authorizations(
            self._graph,
            authorize_url=authorize_url,
            client_id=client_id,
            client_secret=client_secret,
            clock=clock,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ThreadsNetwork:
        return cls(
            Outbound.from_settings(settings),
            api_url=settings.threads_api_url,
            authorize_url=settings.threads_authorize_url,
            client_id=settings.threads_client_id,
            client_secret=settings.threads_client_secret,
        )

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return channels.check_settings(settings)

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        return channels.check_credentials(credentials)

    def validate(self, draft: Draft) -> list[str]:
        return draft_problems(draft)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return text_previews(
            draft,
            limit=THREADS_TEXT_LIMIT,
            length=threads_length,
            # Only refusals: a second tag is not one (only the first becomes the topic, the others stay
            # text), and a preview's problems keep a post from being scheduled.
            problems=lambda index, text: text_problems(text),
        )

    # -- Publishing ----------------------------------------------------------------------------------

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """The post and each reply, each a container published once (containers.py), after the parts
        already `published`; nothing is made when the profile's quota has no room for what is left."""
        refuse_before_sending(self.validate(draft), network="Threads")
        count = 1 + len(draft.thread)
        if len(published) < count:
            # A reply's first part is a reply too: it counts against the replies' quota, not the posts'.
            first_is_post = not published and draft.reply_to is None
            check_quota(
                self._graph,
                channel_of(account),
                posts=1 if first_is_post else 0,
                replies=count - len(published) - first_is_post,
                now=self._clock,
            )
        return super().publish(account, draft, idempotency_key, published=published)

    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        channel = channel_of(account)

        def make(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            return self._containers.publish_part(
                channel, draft, index, parts, part_key(idempotency_key, index)
            )

        return make

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """Whether the uncertain attempt made its parts: see shared.networks.threads.finding."""
        return self._finder.find(channel_of(account), idempotency_key, attempt)

    # -- Reading and removing posts ------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Each post's insights, one request a post (Threads reads no batch of them)."""
        channel = channel_of(account)
        return {
            media_id: self._insights.engagement(channel, media_id) for media_id in dict.fromkeys(external_ids)
        }

    def fetch_audience(self, account: Account) -> Audience:
        return self._insights.audience(channel_of(account))

    def delete(self, account: Account, external_id: str) -> None:
        """DELETE /{threads-media-id}; PostGone when Meta says there is no such post (any more)."""
        channel = channel_of(account)
        response = self._graph.send("DELETE", external_id, channel.access_token)
        if object_missing(response):
            raise PostGone(f"Threads: the post {external_id} does not exist (any more)")
        self._graph.calls.check(response, what=self._graph.what, secrets=[channel.access_token])

    def verify(self, account: Account) -> Profile:
        channel = channel_of(account)
        me = self._graph.read("me", channel.access_token, {"fields": PROFILE_FIELDS})
        with reading(self._graph.what, write=False):
            username = required_text(me["username"])
        profile = Profile(
            handle=username, display_name=me.get("name") or None, url=f"https://www.threads.com/@{username}"
        )
        return storable_profile(profile, what=self._graph.what)

    # -- The engagement inbox: the replies under the account's posts (shared.networks.threads.inbox) ---

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        replies = AccountReplies(self._graph, channel_of(account))
        return read_comments(replies, position, now=self._clock)

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """The post `external_id` is (or is under), then its replies oldest first."""
        return AccountReplies(self._graph, channel_of(account)).thread(external_id)

    def hide_reply(self, account: Account, target: ReplyTarget, *, root: str | None) -> None:
        """`POST /{reply-id}/manage_reply` with `hide=true`; the replies under it are hidden with it."""
        if target.ref.get("top_level") is False:
            raise Rejected(
                "Threads hides only a reply made to the post itself (and those under it with it), not a "
                "reply to a reply"
            )
        channel = channel_of(account)
        response = self._graph.send(
            "POST", f"{target.external_id}/manage_reply", channel.access_token, data={"hide": "true"}
        )
        if object_missing(response):
            raise PostGone(f"Threads: the reply {target.external_id} does not exist (any more)")
        self._graph.calls.check(response, what=self._graph.what, secrets=[channel.access_token])
        answer = answer_object(response, what=self._graph.what, write=False)
        if answer.get("success") is not True:
            raise Rejected(f"Threads did not hide the reply {target.external_id}")

    # -- Connecting an account, and renewing its token (shared.networks.threads.oauth) ---------------

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        return self._authorizations.begin(redirect_uri=redirect_uri, state=state)

    def complete_authorization(
        self,
        settings: Mapping[str, Any],
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        return self._authorizations.complete(code=code, redirect_uri=redirect_uri)

    def expires_at(self, credentials: Mapping[str, Any]) -> datetime | None:
        return stored_expiry(credentials)

    def refresh_credentials(self, account: Account) -> dict[str, Any]:
        channel_of(account)  # a channel without a token cannot be renewed: AuthExpired
        return self._authorizations.refresh(account.credentials)
