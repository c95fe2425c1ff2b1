"""The `x` network's adapter: publishing posts, threads and replies, finding an uncertain one, reading
counts and the inbox (shared.networks.x.inbox), connecting an account and renewing its token, on X's API
v2."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.inbox import InboxEntry, InboxPage
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    Audience,
    AuthExpired,
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
    ReplyTarget,
    TextPreview,
)
from shared.networks.toolkit.answers import identifier, reading, required_text
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.counts import counts_in_batches
from shared.networks.toolkit.parts import (
    Attempt,
    FindsPublished,
    MakePart,
    PartByPart,
    part_label,
    refuse_before_sending,
    text_previews,
)
from shared.networks.toolkit.settings import unknown_options
from shared.networks.toolkit.tokens import stored_expiry, token_problems
from shared.networks.x.api import NOT_FOUND, XDialect, engagement, is_duplicate, part_of, problem_type, token
from shared.networks.x.finding import PostFinder
from shared.networks.x.inbox import POST_ID, Reading, query_problems
from shared.networks.x.media import MEDIA_RULE, MediaUploads, media_problems
from shared.networks.x.oauth import XApp
from shared.text.x import X_LIMIT, x_length, x_text_problems

# GET /2/tweets takes up to 100 ids a request.
BATCH_READ_LIMIT = 100


class XNetwork(PartByPart, FindsPublished):
    """The `x` network's adapter: one per process, for every connected X account, with the operator's app."""

    info = NetworkInfo(
        name="x",
        display_name="X",
        text_limit=X_LIMIT,
        text_unit="weighted characters (each URL 23; CJK characters and emoji 2)",
        supports_threads=True,
        media=MEDIA_RULE,
        metrics=("likes", "reposts", "replies", "quotes", "bookmarks", "views"),
        # expires_at: when the access token stops working (ISO 8601), for Crier's renewal ahead of it.
        credential_keys=("access_token", "refresh_token", "expires_at"),
        can_find_published=True,
        can_delete=True,
        # Editing a post through the API (POST /2/tweets with edit_options) needs the account to subscribe
        # to X's paid tier, and only within an hour of posting: Crier does not offer it.
        can_edit=False,
        # POST /2/tweets allows 100 requests per 15 minutes per user, and X's older, still documented cap
        # is 300 posts (and reposts) per account in 3 hours: 20 + 3 * 80 = 260 fit in any 3 hours, with
        # room for what the person posts by hand. Thread replies are posts too and are not counted here.
        account_rate=Rate.per_hour(80, burst=20),
        # Per app, 10,000 posts in 24 hours: 100 + 24 * 400 = 9,700 across every account of this Crier.
        network_rate=Rate.per_hour(400, burst=100),
        engagement_batch_size=BATCH_READ_LIMIT,
        # X bills reads by the post; counts are read sparingly, well inside GET /2/tweets' 900 per 15 min.
        # The inbox's reads share this rate; a 429 from a tier with a smaller window (mentions) carries
        # X's reset.
        account_read_rate=Rate.per_minute(10, burst=5),
        # Quotes are read as far as they name the account: X's mentions timeline holds no quote that
        # does not. Direct messages (dm_events) are not read.
        inbox=InboxAbilities(
            kinds=(InboxKind.REPLY, InboxKind.MENTION, InboxKind.QUOTE),
            can_search=True,
            can_reply=True,
            can_like=True,
            can_hide=True,
        ),
    )

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        http: httpx.Client | None = None,
        api_url: str = "https://api.x.com",
        authorize_url: str = "https://x.com/i/oauth2/authorize",
        client_id: str | None = None,
        client_secret: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settle: timedelta = timedelta(minutes=2),
        media_poll_attempts: int = 60,
        media_longest_wait: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._calls = Calls(outbound or Outbound(), SERVER_TIMEOUT, dialect=XDialect(), http=http)
        self._api_url = api_url.rstrip("/")
        self._clock = clock
        self._finder = PostFinder(self._calls, self._api_url, clock=clock, settle=settle)
        self._inbox = Reading(self._calls, self._api_url)
        self._media = MediaUploads(
            self._calls,
            self._api_url,
            poll_attempts=media_poll_attempts,
            longest_wait=media_longest_wait,
            sleep=sleep,
        )
        self._app = XApp(
            self._calls,
            api_url=self._api_url,
            authorize_url=authorize_url,
            client_id=client_id,
            client_secret=client_secret,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> XNetwork:
        return cls(
            Outbound.from_settings(settings),
            api_url=settings.x_api_url,
            authorize_url=settings.x_authorize_url,
            client_id=settings.x_client_id,
            client_secret=settings.x_client_secret,
        )

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """X channels have no options: the API's address and the app are the operator's settings."""
        return unknown_options(settings, ())

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        problems = token_problems(credentials, ("access_token", "refresh_token"), "X")
        if stored_expiry(credentials) is None:
            problems.append("expires_at must be an ISO 8601 time, when the access token stops working")
        return problems

    def validate(self, draft: Draft) -> list[str]:
        problems: list[str] = []
        if draft.reply_to is not None and not POST_ID.fullmatch(draft.reply_to.external_id):
            problems.append(
                f"{draft.reply_to.external_id[:40]!r} is not an X post's id: it cannot be replied to"
            )
        if not draft.text.strip() and not draft.media:
            problems.append("the text is empty")
        elif draft.text.strip():
            problems += x_text_problems(draft.text)
        for index, text in enumerate(draft.thread, 1):
            problems += (
                x_text_problems(text, label=part_label(index))
                if text.strip()
                else [f"{part_label(index)} is empty"]
            )
        return problems + media_problems(draft.media)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return text_previews(
            draft,
            limit=X_LIMIT,
            length=x_length,
            problems=lambda index, text: x_text_problems(text, label=part_label(index)),
        )

    # -- Publishing ----------------------------------------------------------------------------------

    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        """Upload the media, post the text (as a reply to draft.reply_to, when set), then each thread item
        as a reply to the part before it.

        X takes no idempotency key. A 403 "duplicate content" means X holds a post of this text from the
        account already: it is looked for at once among the account's recent posts, and taken as this
        part where exactly one reads as it in the same place (an earlier attempt whose answer was lost);
        where none does (the person posted the same words themselves), it is X's refusal.
        """
        refuse_before_sending(self.validate(draft), network="X")
        access_token = token(account)

        def post(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            body: dict[str, Any] = {}
            text = draft.text if index == 0 else draft.thread[index - 1]
            if text:
                body["text"] = text
            follows = parts[-1].external_id if parts else replied_to(draft)
            attached = len(draft.media) if index == 0 else 0
            if attached:
                # Nothing is posted while the media upload: a failure there leaves no post.
                body["media"] = {
                    "media_ids": [self._media.upload(access_token, item) for item in draft.media]
                }
            if follows is not None:
                body["reply"] = {"in_reply_to_tweet_id": follows}
            response = self._calls.send(
                "POST", f"{self._api_url}/2/tweets", write=True, token=access_token, json=body
            )
            if is_duplicate(response):
                found = self._finder.find_duplicate(
                    access_token, account.handle, text, follows=follows, attached=attached
                )
                if found is not None:
                    return found
            answer = self._calls.answer(response, what="X", write=True)
            # X's answer to a post gives no time (created_at None): the attempt's end stands in for it.
            with reading("X", write=True):
                return part_of(answer["data"], account.handle)

        return post

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """Whether the uncertain attempt made the post, read back from the account's own posts: see
        shared.networks.x.finding."""
        return self._finder.find(token(account), account.handle, attempt)

    # -- Reading and removing posts ------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        """Counts from public_metrics, 100 posts a request (GET /2/tweets?ids=). A post X answers with a
        resource-not-found error is gone; one it leaves out for another reason reads as no counts."""
        access_token = token(account)
        not_found: set[str] = set()

        def read_batch(ids: list[str]) -> dict[str, Mapping[str, Any]]:
            response = self._calls.send(
                "GET",
                f"{self._api_url}/2/tweets",
                token=access_token,
                params={"ids": ",".join(ids), "tweet.fields": "public_metrics,created_at"},
            )
            body = self._calls.answer(response, what="X")
            with reading("X", write=False):
                posts = {identifier(post["id"]): post for post in body.get("data") or []}
                for error in body.get("errors") or []:
                    if problem_type(error) == NOT_FOUND and error.get("resource_id"):
                        not_found.add(str(error["resource_id"]))
            return posts

        return counts_in_batches(
            external_ids,
            batch_size=BATCH_READ_LIMIT,
            read_batch=read_batch,
            read_each=lambda ids: {},
            engagement=engagement,
            missing=lambda post_id: (
                PostGone(f"X: post {post_id} does not exist (any more)")
                if post_id in not_found
                else Engagement()
            ),
            what="X",
        )

    # -- The inbox (shared.networks.x.inbox) -----------------------------------------------------------

    def read_inbox(self, account: Account, position: str | None) -> InboxPage:
        """The account's mentions after `position` (GET /2/users/:id/mentions): replies to its posts,
        quotes of them and other posts naming it."""
        return self._inbox.mentions(token(account), position)

    def read_thread(self, account: Account, external_id: str) -> Sequence[InboxEntry]:
        """The post's conversation, oldest first: its first post, and the replies of the last seven days
        (recent search, conversation_id:), at most 500."""
        return self._inbox.thread(token(account), external_id)

    def search_posts(self, account: Account, query: str, position: str | None) -> InboxPage:
        """Posts of the last seven days matching `query` (GET /2/tweets/search/recent) after `position`."""
        return self._inbox.search(token(account), query, position)

    def query_problems(self, query: str) -> list[str]:
        return query_problems(query)

    def like(self, account: Account, target: ReplyTarget, idempotency_key: str) -> None:
        """Like the post; X's like is idempotent, so the key is not needed."""
        self._inbox.like(token(account), target.external_id)

    def hide_reply(self, account: Account, target: ReplyTarget, *, root: str | None) -> None:
        """Hide a reply in a conversation the account started; X finds the conversation itself."""
        self._inbox.hide(token(account), target.external_id)

    def delete(self, account: Account, external_id: str) -> None:
        response = self._calls.send(
            "DELETE", f"{self._api_url}/2/tweets/{external_id}", write=True, token=token(account)
        )
        if response.status_code == 404:
            raise PostGone(f"X: post {external_id} does not exist (any more)")
        answer = self._calls.answer(response, what="X")
        if (answer.get("data") or {}).get("deleted") is not True:
            raise PostGone(f"X deleted nothing for post {external_id}: it is not there (any more)")

    def verify(self, account: Account) -> Profile:
        me = self._me(account)
        with reading("X", write=False):
            username = required_text(me["username"])
            return Profile(
                handle=username, display_name=me.get("name") or None, url=f"https://x.com/{username}"
            )

    def fetch_audience(self, account: Account) -> Audience:
        """The account's counts (GET /2/users/me, user.fields=public_metrics)."""
        me = self._me(account, {"user.fields": "public_metrics"})
        metrics = me.get("public_metrics")
        metrics = metrics if isinstance(metrics, dict) else {}
        counts = {
            key: value
            for key, value in metrics.items()
            if key in ("followers_count", "following_count", "tweet_count") and isinstance(value, int)
        }
        return Audience(
            followers=counts.get("followers_count"),
            following=counts.get("following_count"),
            posts=counts.get("tweet_count"),
            raw={"id": str(me.get("id")), **counts},
        )

    def _me(self, account: Account, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = self._calls.send("GET", f"{self._api_url}/2/users/me", token=token(account), params=params)
        answer = self._calls.answer(response, what="X")
        with reading("X", write=False):
            me = answer["data"]
            if not isinstance(me, dict):
                raise TypeError("the account is not an object")
            return me

    # -- Connecting an account, and renewing its token (shared.networks.x.oauth) ----------------------

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        return self._app.begin(redirect_uri=redirect_uri, state=state, code_challenge=code_challenge)

    def complete_authorization(
        self,
        settings: Mapping[str, Any],
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        return self._app.complete(
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier, now=self._clock()
        )

    def expires_at(self, credentials: Mapping[str, Any]) -> datetime | None:
        return stored_expiry(credentials)

    def refresh_credentials(self, account: Account) -> dict[str, Any]:
        """A new access token and a new refresh token: X refuses the old refresh token from now on."""
        refresh_token = account.credentials.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise AuthExpired("the X channel has no refresh token: connect the account again")
        return self._app.refresh(refresh_token, now=self._clock())


def replied_to(draft: Draft) -> str | None:
    """The post a draft's first part answers; None for a post of its own."""
    return draft.reply_to.external_id if draft.reply_to is not None else None
