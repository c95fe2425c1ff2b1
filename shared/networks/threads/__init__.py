"""Threads: Meta's Threads API (graph.threads.net, v1.0), through the operator's Threads app.

Followed, from Meta's documentation (developers.facebook.com/docs/threads): overview (rate limiting: 250
API-published posts and 1,000 replies per profile in a moving 24 hours, `threads_publishing_limit`), posts
(the two-step container flow; text, image, video and carousel containers; 500 characters, an emoji counting
its UTF-8 bytes; tags and links; media specifications), create-posts/text-attachments (at most 5 links,
THREADS_API__LINK_LIMIT_EXCEEDED since 22 December 2025), reply-management (`reply_to_id`, a post's replies,
`is_reply_owned_by_me`, a post's conversation, `manage_reply`), threads-media (a user's threads, one media
object), insights (media and user metrics), posts/delete-posts (DELETE /{threads-media-id}, threads_delete),
troubleshooting (a container's status: EXPIRED, ERROR, FINISHED, IN_PROGRESS, PUBLISHED, and its error
messages), get-started (the authorization window, the code exchange, long-lived tokens and their refresh), and
the Graph API's error handling (the error object and its codes).

By concern: `graph` (the one place calls are addressed), `errors` (Meta's error object read), `channel` (a
channel's options and credentials, and what a draft may be), `quota` (the publishing quota), `containers` (a
part made, waited for and published once), `finding` (what an uncertain attempt made), `engagement`
(insights), `inbox` (the replies under the account's posts, read for the engagement inbox), `oauth`
(connecting an account, renewing its token) and `adapter` (the network).
"""
