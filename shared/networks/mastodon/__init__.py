"""Mastodon: the adapter for any Mastodon server, and the OAuth steps that connect an account to Crier.

Followed, from the Mastodon documentation (docs.joinmastodon.org, repository mastodon/documentation):
methods/statuses (post with an Idempotency-Key kept "for up to 1 hour"; view one, view several with `id[]`
since 4.3; delete; view source), entities/Status (the counts; no bookmark count: `bookmarked` is only whether
the caller bookmarked it) and entities/Account (followers_count, following_count, statuses_count),
methods/media (POST /api/v2/media answers 200, or 202 while the file is processed: poll GET /api/v1/media/:id,
206 until done), methods/accounts (verify_credentials; an account's statuses, at most 40 a page),
methods/instance (GET /api/v2/instance: `configuration.statuses`), methods/apps and methods/oauth (register,
authorize, exchange the code; PKCE with S256 since 4.3, announced in the server metadata at
/.well-known/oauth-authorization-server), api/rate-limits (the X-RateLimit-* headers; Reset is an ISO 8601
time), user/posting (URLs count 23; images up to 16 MB, video up to 99 MB, 4 attachments). From Mastodon's
source (mastodon/mastodon): `app/lib/rate_limiter.rb` (300 statuses per account per 3 hours, a fixed window),
`app/controllers/api/base_controller.rb` (at most 20 ids per batch read, the error bodies). The engagement
inbox's documents are listed in `inbox`.

By concern: `channel` (a channel's options and what a draft may be), `statuses` (reading Mastodon's
answers), `adapter` (the network: publishing, editing, reading counts), `finding` (what an uncertain
attempt made, found among the account's statuses, a reply among them), `oauth` (connecting an account),
`inbox` (notifications read by position, threads, saved searches, favourites) and `html_text` (a status's
HTML as the plain text a person reads).
"""
