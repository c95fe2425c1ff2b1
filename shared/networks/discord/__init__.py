"""Discord: posts through a channel's incoming webhook.

Follows Discord's developer documentation: Webhook Resource (Execute Webhook with `?wait=true`, which
answers with the created message; `thread_id` and `thread_name`; Get Webhook with Token; Delete Webhook
Message), Rate Limits (a 429 carries `retry_after` in its JSON body, `Retry-After`,
`X-RateLimit-Reset-After` and `X-RateLimit-Scope`; "if a webhook returns a 404 status you should not attempt
to use it again"), and Opcodes and Status Codes (JSON error codes 10003 Unknown Channel, 10008 Unknown
Message, 10015 Unknown Webhook, 50027 Invalid Webhook Token).

The webhook URL is the credential: anyone holding it can post as the webhook. It is parsed into its id and
token and rebuilt against Discord's API, so a stored URL can never send a request elsewhere, and neither the
URL nor its token appears in any err

By concern: `webhooks` (a webhook URL, and a message's id and address), `answers` (reading Discord's
answers: its error codes and rate-limit headers as a Dialect) and `adapter` (the network).
"""
