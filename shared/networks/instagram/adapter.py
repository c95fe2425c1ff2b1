"""The `instagram` network's adapter: business and creator accounts, through the Graph API and Facebook
Login."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.instagram.channel import (
    MEDIA_RULE,
    draft_problems,
    first_comment,
    missing_media,
    settings_problems,
)
from shared.networks.instagram.containers import PUBLISHED, Containers
from shared.networks.instagram.finding import MediaFinder
from shared.networks.instagram.graph import InstagramDialect
from shared.networks.instagram.graph_calls import WHAT, Graph, graph_of
from shared.networks.instagram.insights import Insights
from shared.networks.instagram.oauth import FacebookLogin
from shared.networks.meta.graph_errors import object_missing
from shared.networks.outbound import Outbound
from shared.networks.ports import (
    Account,
    Audience,
    AuthorizationStart,
    CannotTell,
    Draft,
    Engagement,
    NetworkInfo,
    PostGone,
    Profile,
    PublishedPart,
    PublishedPost,
    TextPreview,
    Transient,
)
from shared.networks.toolkit.answers import identifier, reading, required_text
from shared.networks.toolkit.calls import SERVER_TIMEOUT, Calls
from shared.networks.toolkit.own_posts import AmongOwnPosts, part_address
from shared.networks.toolkit.parts import (
    Attempt,
    FindsPublished,
    publish_in_parts,
    refuse_before_sending,
    text_previews,
)
from shared.networks.toolkit.tokens import is_token
from shared.text.instagram import INSTAGRAM_CAPTION_LIMIT, caption_problems, instagram_length


class InstagramNetwork(FindsPublished):
    """The `instagram` network's adapter: one per process, for every connected account."""

    info = NetworkInfo(
        name="instagram",
        display_name="Instagram",
        text_limit=INSTAGRAM_CAPTION_LIMIT,
        text_unit="UTF-16 units (an emoji counts 2), at most 30 hashtags and 20 @mentions",
        supports_first_comment=True,
        media=MEDIA_RULE,
        metrics=("likes", "replies", "bookmarks", "views"),
        credential_keys=("access_token", "ig_user_id"),
        can_find_published=True,
        # DELETE /<IG_MEDIA_ID> (IG Media reference, Facebook Login only, instagram_manage_contents).
        can_delete=True,
        # No call changes a published media's caption (IG Media: "Updating" covers comment_enabled only).
        can_edit=False,
        # Content publishing allows 100 API-published posts per account in a rolling 24 hours (older
        # documents: 25). A bucket of 10 refilled at 3 an hour spends at most 10 + 72 = 82 in a day,
        # leaving room for other apps the account publishes through. Crier also reads the account's own
        # count (content_publishing_limit) before each post, so a lower limit is met as a wait, not a
        # refusal.
        account_rate=Rate.per_hour(3, burst=10),
        # Each post's counts take two reads (the media's fields and its insights).
        engagement_batch_size=None,
        # "Business Use Case" limits: 4,800 calls per account per 24 hours times its impressions; a
        # small account's share of it goes to publishing first.
        account_read_rate=Rate.per_hour(60, burst=20),
    )

    def __init__(
        self,
        outbound: Outbound | None = None,
        *,
        graph_url: str = "https://graph.facebook.com",
        graph_version: str = "v24.0",
        dialog_url: str = "https://www.facebook.com",
        client_id: str | None = None,
        client_secret: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_interval: float = 2.0,
        poll_attempts: int = 30,
        settle: timedelta = timedelta(minutes=2),
    ) -> None:
        self._calls = Calls(outbound or Outbound(), SERVER_TIMEOUT, dialect=InstagramDialect(), http=http)
        self._base = f"{graph_url.rstrip('/')}/{graph_version}"
        self._clock = clock
        self._own = AmongOwnPosts("Instagram", clock, settle)
        self._finder = MediaFinder()
        self._containers = Containers(
            self._finder, poll_interval=poll_interval, poll_attempts=poll_attempts, clock=clock
        )
        self._insights = Insights()
        self._login = FacebookLogin(
            self._calls,
            graph_base=self._base,
            dialog_base=f"{dialog_url.rstrip('/')}/{graph_version}",
            client_id=client_id,
            client_secret=client_secret,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> InstagramNetwork:
        return cls(
            Outbound.from_settings(settings),
            graph_url=settings.instagram_graph_url,
            graph_version=settings.facebook_graph_version,
            dialog_url=settings.facebook_dialog_url,
            client_id=settings.instagram_client_id,
            client_secret=settings.instagram_client_secret,
        )

    # -- What a channel and a draft may be ------------------------------------------------------------

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return settings_problems(settings)

    def check_credentials(self, credentials: Mapping[str, Any]) -> list[str]:
        """Problems with the token's and the account id's shape; whether they work, verify() asks."""
        problems = []
        if not is_token(credentials.get("access_token")):
            problems.append("access_token must be the Facebook page's access token, without spaces")
        account = credentials.get("ig_user_id")
        if not isinstance(account, str | int) or not str(account).isdigit():
            problems.append("ig_user_id must be the numeric id of the Instagram business or creator account")
        return problems

    def validate(self, draft: Draft) -> list[str]:
        return draft_problems(draft)

    def preview(self, account: Account, draft: Draft) -> list[TextPreview]:
        return text_previews(
            draft,
            limit=INSTAGRAM_CAPTION_LIMIT,
            length=instagram_length,
            problems=lambda _, text: [f"the text: {problem}" for problem in caption_problems(text)],
        )

    # -- Publishing: the post, then its first comment ------------------------------------------------

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """The post from its container (shared.networks.instagram.containers), then its first comment,
        each a part: a comment that fails leaves the post recorded, and the next attempt adds only it."""
        refuse_before_sending(missing_media(draft) + self.validate(draft), network="Instagram")
        graph = self._graph(account)
        comment = first_comment(draft)

        def make(index: int, parts: Sequence[PublishedPart]) -> PublishedPart:
            if index == 0:
                return self._containers.publish(graph, draft, idempotency_key)
            answer = graph.write(f"{parts[0].external_id}/comments", {"message": comment})
            with reading(WHAT, write=True):
                return PublishedPart(identifier(answer["id"]), "", self._clock())

        return publish_in_parts(2 if comment is not None else 1, make, published=published)

    # -- Finding what an uncertain attempt made ------------------------------------------------------

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """The post from its container when this process made it, else among the account's latest media
        by its caption; then the first comment among the post's comments."""
        graph = self._graph(account)
        draft = attempt.draft
        if attempt.published:
            post = attempt.published[0]
        else:
            post_found = self._find_post(graph, idempotency_key, attempt)
            if post_found is None:
                return None
            post = post_found
        comment = first_comment(draft) if draft is not None else None
        if comment is None:
            return PublishedPost.of([post])
        since = attempt.last_attempted_at or attempt.attempted_at
        found = self._finder.comment(graph, post.external_id, comment, since=since)
        return PublishedPost.of([post] if found is None else [post, found])

    def _find_post(self, graph: Graph, key: str, attempt: Attempt) -> PublishedPart | None:
        if attempt.draft is None:
            raise CannotTell("Instagram: what was sent is not known, so its post cannot be recognised")
        made = self._containers.remembered(key)
        if made is not None:
            if self._containers.status(graph, made.container_id) != PUBLISHED:
                return None  # the container is published at most once, and it was not
            since = made.made_at
        else:
            since = attempt.attempted_at or self._clock() - timedelta(days=1)
        found = self._finder.latest_with_caption(graph, attempt.draft.text, since=since)
        uncertain_since = attempt.last_attempted_at or attempt.attempted_at
        # A container this process made says whether the post was made: only without one does absence wait.
        settled = made is not None or uncertain_since is None or self._own.settled(uncertain_since)
        post = self._own.the_one(found, "the post", settled=settled, address=part_address)
        if post is None and made is not None:
            raise Transient(f"Instagram: container {made.container_id} is published but not listed yet")
        return post

    # -- Reading and removing posts ------------------------------------------------------------------

    def fetch_engagement(
        self, account: Account, external_ids: Sequence[str]
    ) -> Mapping[str, Engagement | PostGone]:
        graph = self._graph(account)
        return {
            media_id: self._insights.engagement(graph, media_id) for media_id in dict.fromkeys(external_ids)
        }

    def delete(self, account: Account, external_id: str) -> None:
        graph = self._graph(account)
        response = graph.send("DELETE", external_id)
        if object_missing(response):
            raise PostGone(f"Instagram: media {external_id} does not exist (any more)")
        self._calls.check(response, what=WHAT)

    def verify(self, account: Account) -> Profile:
        graph = self._graph(account)
        me = graph.read(graph.ig_user_id, fields="username,name")
        with reading(WHAT, write=False):
            username = required_text(me["username"])
        return Profile(
            handle=username,
            display_name=me.get("name") if isinstance(me.get("name"), str) else None,
            url=f"https://www.instagram.com/{username}/",
        )

    def fetch_audience(self, account: Account) -> Audience:
        """followers_count, follows_count and media_count of the IG User."""
        graph = self._graph(account)
        me = graph.read(graph.ig_user_id, fields="followers_count,follows_count,media_count")
        counts = {
            key: me[key]
            for key in ("followers_count", "follows_count", "media_count")
            if isinstance(me.get(key), int) and not isinstance(me.get(key), bool)
        }
        return Audience(
            followers=counts.get("followers_count"),
            following=counts.get("follows_count"),
            posts=counts.get("media_count"),
            raw=counts,
        )

    # -- Connecting an account: Facebook Login (shared.networks.instagram.oauth) ----------------------

    def begin_authorization(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> AuthorizationStart:
        return self._login.begin(redirect_uri=redirect_uri, state=state)

    def complete_authorization(
        self,
        settings: Mapping[str, Any],
        app_credentials: Mapping[str, Any],
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        return self._login.complete(settings, code=code, redirect_uri=redirect_uri)

    def _graph(self, account: Account) -> Graph:
        return graph_of(self._calls, self._base, account)
