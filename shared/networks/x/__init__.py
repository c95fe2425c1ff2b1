"""X: the adapter for X's API v2, and the OAuth 2 steps that connect an account to Crier's app.

Followed, from X's documentation (docs.x.com, the X API v2 reference of its OpenAPI document, version
2.16x): POST /2/tweets (text, media.media_ids, reply.in_reply_to_tweet_id; 201 with data.id and data.text),
DELETE /2/tweets/:id (data.deleted), GET /2/tweets?ids= (up to 100; tweet.fields=public_metrics; a missing
post comes back in `errors` with type .../problems/resource-not-found), GET /2/users/me (user.fields=
public_metrics), GET /2/users/:id/tweets (start_time, max_results up to 100, pagination_token,
meta.next_token), the v2 media upload (POST /2/media/upload; initialize, append, finalize; STATUS;
POST /2/media/metadata for alt text), fundamentals/rate-limits (x-rate-limit-limit, -remaining, -reset in
epoch seconds; the 24-hour x-user-limit-24hour-* and x-app-limit-24hour-* on posting), fundamentals/
response-codes-and-errors (problem details: type, title, detail; 400 invalid-request with `errors`; 403
client-forbidden with reason client-not-enrolled, unsupported-authentication; 401 Unauthorized),
fundamentals/counting-characters (shared.text.x), and OAuth 2.0 Authorization Code with PKCE
(resources/fundamentals/authentication: /2/oauth2/token, two-hour access tokens, single-use refresh tokens).

By concern: `api` (reading X's answers and headers), `media` (what X takes, and the upload), `finding`
(what an uncertain attempt made, among the account's own posts), `oauth` (connecting and renewing) and
`adapter` (the network).
"""
