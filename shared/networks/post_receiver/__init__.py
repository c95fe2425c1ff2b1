"""The `webhook` network: Crier POSTs each post, signed, to a receiver at a URL of the channel owner's
choosing.

Its key stays `webhook` (channels store it, the API shows it); its code is named for what it talks to, a
receiver of posts, so that it is not taken for the workspace webhooks of shared/notifications, which tell
a workspace's own systems what happened in Crier.

The contract is Crier's own (there is no network to follow), written for receivers to implement:

- `POST <url>` with a JSON body `{"id", "text", "thread", "media", "options", "created_at"}`. `id` is the
  delivery's idempotency key, the same on every attempt, so a receiver can drop a repeat; `media` lists each
  item's type, size, SHA-256 and description, never its bytes; `created_at` is when this request was made
  (UTC, ISO 8601), so a receiver may refuse stale replays.
- `X-Crier-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the channel's secret.
  `X-Crier-Timestamp: <unix seconds>` is `created_at` again, for receivers that refuse stale requests
  (say, older than five minutes) before parsing the body; it is signed through the body's `created_at`.
  `Idempotency-Key: <id>` repeats the key for receivers that dedupe on headers.
- A 2xx answer means published. A JSON body with `"id"` (and `"url"`) names the post; otherwise its id is
  the idempotency key. 401 means the receiver no longer accepts the secret; 408 means try again, 429 try
  again after its Retry-After; any other 3xx or 4xx is a refusal. A 5xx, or no answer once the request was
  sent, leaves it unknown whether the receiver took the post: Crier cannot ask, so a person decides (a
  receiver that drops a repeated `id` makes their "republish" harmless).

By concern: `signing` (the signature, which the workspace webhooks use too) and `adapter`.
"""
