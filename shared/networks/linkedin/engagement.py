"""A LinkedIn post's counts: its likes and comments (Social Actions) for any author, and for a page's posts
also their impressions, clicks and reshares (Organization Share Statistics). LinkedIn gives a member's own
posts no impression or reshare count through the API: those stay None. A member's likes and comments are
read with r_member_social, which LinkedIn grants only to approved apps: without it the read is refused, and
the error says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.networks.linkedin.rest import WHAT, LinkedInApi, encoded, query, urn_list
from shared.networks.ports import Engagement, PostGone, Rejected
from shared.networks.toolkit.answers import reading

# Share statistics are asked for this many posts a request (Crier's bound: the URL holds every URN).
STATISTICS_BATCH = 20


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def social_counts(actions: Mapping[str, Any]) -> dict[str, int | None]:
    likes = (actions.get("likesSummary") or {}).get("totalLikes")
    comments = (actions.get("commentsSummary") or {}).get("aggregatedTotalComments")
    return {"likes": _count(likes), "replies": _count(comments)}


def share_counts(statistics: Mapping[str, Any]) -> dict[str, int | None]:
    total = statistics.get("totalShareStatistics") or {}
    return {
        "views": _count(total.get("impressionCount")),
        "clicks": _count(total.get("clickCount")),
        "reposts": _count(total.get("shareCount")),
    }


def fetch_counts(
    api: LinkedInApi, token: str, post_urns: Sequence[str], organization: str | None
) -> dict[str, Engagement | PostGone]:
    """Each post's counts; PostGone for a post LinkedIn no longer has."""
    result: dict[str, Engagement | PostGone] = {}
    social: dict[str, dict[str, int | None]] = {}
    for urn in dict.fromkeys(post_urns):
        response = api.send("GET", f"/rest/socialActions/{encoded(urn)}", token)
        if response.status_code in (404, 410):
            result[urn] = PostGone(f"LinkedIn: the post {urn} is gone")
            continue
        if response.status_code == 403 and organization is None:
            raise Rejected(
                "LinkedIn shows a member's likes and comments only to apps it approved for r_member_social "
                f"({api.refusal(response, write=False)})"
            )
        actions = api.calls.answer(response, what=WHAT)
        with reading(WHAT, write=False):
            social[urn] = social_counts(actions)
    shares = _share_statistics(api, token, list(social), organization) if organization else {}
    for urn, counts in social.items():
        page = shares.get(urn, {})
        # clickCount has no field of its own in an Engagement: Crier counts clicks on its own links; it is
        # kept in `raw` with the rest of what LinkedIn said.
        result[urn] = Engagement(
            likes=counts["likes"],
            replies=counts["replies"],
            reposts=page.get("reposts"),
            views=page.get("views"),
            raw={
                "urn": urn,
                **{key: value for key, value in {**counts, **page}.items() if value is not None},
            },
        )
    return result


def _share_statistics(
    api: LinkedInApi, token: str, urns: list[str], organization: str
) -> dict[str, dict[str, int | None]]:
    found: dict[str, dict[str, int | None]] = {}
    for start in range(0, len(urns), STATISTICS_BATCH):
        batch = urns[start : start + STATISTICS_BATCH]
        fields = {"q": "organizationalEntity", "organizationalEntity": encoded(organization)}
        shares = [urn for urn in batch if urn.startswith("urn:li:share:")]
        posts = [urn for urn in batch if urn.startswith("urn:li:ugcPost:")]
        if shares:
            fields["shares"] = urn_list(shares)
        if posts:
            fields["ugcPosts"] = urn_list(posts)
        if not shares and not posts:
            continue
        answer = api.get(f"/rest/organizationalEntityShareStatistics?{query(fields)}", token)
        with reading(WHAT, write=False):
            for element in answer["elements"]:
                urn = element.get("share") or element.get("ugcPost")
                if isinstance(urn, str):
                    found[urn] = share_counts(element)
    return found


def page_followers(api: LinkedInApi, token: str, organization: str) -> int | None:
    """How many members follow the page (GET /rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER)."""
    answer = api.get(f"/rest/networkSizes/{encoded(organization)}?edgeType=COMPANY_FOLLOWED_BY_MEMBER", token)
    return _count(answer.get("firstDegreeSize"))
