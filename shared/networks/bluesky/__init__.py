"""Bluesky: the adapter for an account on any AT Protocol PDS (bsky.social by default), by app password.

Followed, from the AT Protocol and Bluesky documents (atproto.com/specs, docs.bsky.app, and the lexicons in
bluesky-social/atproto, lexicons/): com.atproto.server.createSession, refreshSession and getSession (an app
password buys an access token and a single-use refresh token; an expired access token answers 400
`ExpiredToken`); com.atproto.repo.createRecord, getRecord and deleteRecord; com.atproto.repo.uploadBlob;
com.atproto.identity.resolveHandle; app.bsky.feed.post (text of at most 300 graphemes and 3000 bytes,
`createdAt`, `facets`, `langs` of at most 3, `reply` with strong refs to the root and parent, `embed`);
app.bsky.richtext.facet; app.bsky.embed.images (at most 4, each blob at most 1,000,000 bytes, `alt` required
but unbounded) and app.bsky.embed.external; app.bsky.feed.getPosts (at most 25 URIs; posts it cannot see are
left out) and app.bsky.feed.defs#postView (likeCount, repostCount, replyCount, quoteCount, and bookmarkCount
since the app.bsky.bookmark lexicons of 2025); app.bsky.actor.getProfile and
app.bsky.actor.defs#profileViewDetailed (followersCount, followsCount, postsCount); the specs "Record Key" and
"Timestamp Identifiers (TIDs)", and "XRPC" (error bodies `{"error", "message"}`); "Rate Limits"
(docs.bsky.app/docs/advanced-guides/rate-limits: 5,000 points an hour and 35,000 a day per account, a created
record costing 3; RateLimit-* headers, Reset in epoch seconds; createSession 30 per 5 minutes and 300 a day
per handle). For the engagement inbox (docs.bsky.app's API reference and the lexicons):
app.bsky.notification.listNotifications (`reasons`, `limit` 1 to 100, `cursor`; newest first),
app.bsky.feed.searchPosts (`q`, `sort=latest`, `limit` 1 to 100, `cursor`), app.bsky.feed.getPostThread,
app.bsky.feed.like (`subject` a strong ref), app.bsky.feed.threadgate (`hiddenReplies`, at most 300, at the
root post's record key) and com.atproto.repo.putRecord (`swapRecord`). From the PDS's source
(bluesky-social/atproto, packages/pds/src/repo/prepare.ts and packages/repo/src/mst): createRecord checks a
client's record key for record-key syntax only, and creating at a key that is taken fails inside the
repository tree, which the PDS answers as a 500.

Exactly once, by record key. Each post's record key is computed from the delivery's idempotency key (see
`record_key`), so every attempt of one delivery writes to the same path of the account's repository, and a
path holds one record. Before creating, publish reads that path: an earlier attempt's post is returned, not
made again. If two attempts race, the second createRecord fails, and the record found there is returned.
So a retry can never make a second post, whatever went wrong before, and `find_published` is certain.

A like is kept the same way, at a record key computed from the like's idempotency key; a reply made from
the inbox is a post like any other, whose first record names the post answered and its thread's root.

By concern: `channel` (a channel's options and what a draft may be), `record_keys` (the keys above, and a
post's addresses), `sessions` (signing in with the app password, and every call made with the session),
`xrpc` (reading the PDS's answers), `records` (a post's record: facets, images, link card), `newest_first`
(reading a list that pages from the newest down, by a position that loses and repeats nothing), `inbox`
(notifications, found posts and threads as the inbox's entries) and `adapter` (the network).
"""
