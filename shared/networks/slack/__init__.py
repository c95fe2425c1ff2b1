"""Slack: posts through a channel's incoming webhook.

Follows Slack's documentation: "Sending messages using incoming webhooks" (POST `{"text": …}` as JSON to the
hooks.slack.com URL; a success answers 200 `ok`; failures answer a plain-text code: invalid_payload,
no_text, too_many_attachments, user_not_found (400), action_prohibited, posting_to_general_channel_denied,
invalid_token (403), channel_not_found, no_service, no_team, team_disabled (404), channel_is_archived (410),
rollup_error (500)), the changelog "Improving error conditions for Incoming Webhooks" (2016-05-17, the
status codes for those strings), "Rate limits" (incoming webhooks: one message per second, short bursts;
beyond that a 429 with Retry-After), and "Formatting text for app surfaces" (&, < and > are control
characters, escaped as &amp; &lt; &gt;).

An incoming webhook answers `ok` and nothing more: no message id, no timestamp. So Crier cannot link to the
message, find it after an uncertain attempt, delete it, or read its reactions.

The webhook URL is the credential. It is checked to be a Slack hooks URL, so a stored value can never send a
request elsewhere, and it never appears in an error.

By concern: `webhooks` (the URL that is the credential, and the text as Slack shows it) and `adapter`.
"""
