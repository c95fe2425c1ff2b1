"""The sandbox network: a real network of Crier's own, for demos, tests and benchmarks.

It stores posts in a database of its own (not Crier's), hands out ids and URLs, honours idempotency keys
the way Mastodon does, and can be told per channel to be slow or to fail the ways real networks fail:
refusing with a 5xx before storing, or storing and then timing out so the caller cannot know. It does what
the real networks do, so a new user can try every feature without an account: threads (each reply stored
under the delivery's key and its number, `key:n`, as Mastodon's adapter sends them), and images or a video
with their alt text (the store keeps each file's type, size, digest and description, not its bytes). Its
posts gain likes, reposts, replies, quotes, bookmarks and views as they age, by a deterministic curve, so
metrics exist without any background process; an account's followers grow a little each day, likewise.

By concern: `store` (its own database table), `behaviour` (how a channel is told to fail, and how counts
grow) and `adapter` (the network).
"""
