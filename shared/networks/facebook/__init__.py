"""Facebook: the adapter for Facebook Pages, through Meta's Graph API (the version in
CRIER_FACEBOOK_GRAPH_VERSION, v24.0 by default; every call goes to `{facebook_graph_url}/{version}/…`).

Followed, from Meta's developer documentation (developers.facebook.com/docs): graph-api/guides/error-handling
(the error object, its codes and subcodes, and what to do for each), graph-api/overview/rate-limiting (the
X-App-Usage, X-Page-Usage and X-Business-Use-Case-Usage headers, `estimated_time_to_regain_access` in
minutes, codes 4, 17, 32, 613 and 80001), pages-api/posts (`POST /{page-id}/feed` with `message` and
`link`; `POST /{page-id}/photos` with `source`; several photos uploaded with `published=false` and attached
with `attached_media`; `GET /{page-id}/published_posts`; `POST /{post-id}` to change the message,
`DELETE /{post-id}`), graph-api/reference/object/comments (`POST /{object-id}/comments`), graph-api
reference for Post (`reactions`, `comments` and their `summary(total_count)`, `shares`) and Page
(`followers_count`, `fan_count`), platforminsights/page (Post insights; impressions metrics deprecated for
`post_media_view`, "views", from November 15, 2025, "the API will return an invalid metric error"),
facebook-login/guides/advanced/manual-flow, access-tokens (long-lived tokens, Page tokens from
`/me/accounts`).

By concern: `graph` (the Graph address and the reading of Graph's errors, shareable with Instagram),
`channel` (a channel's options and what a draft may be), `posting` (the post and its first comment, or a
reply), `finding` (what an uncertain attempt made, found among the Page's posts), `engagement` (counts and
audience), `inbox` (the comments on the Page's posts, read for the engagement inbox), `oauth` (connecting a
Page) and `adapter` (the network).
"""
