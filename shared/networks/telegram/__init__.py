"""Telegram: a bot posting to a channel through the Bot API.

Follows the Telegram Bot API (version 9.x), https://core.telegram.org/bots/api: Making requests (every
answer is a JSON object with `ok`; on failure `error_code`, `description` and, sometimes, `parameters` with
`retry_after` or `migrate_to_chat_id`), sendMessage, sendPhoto, sendVideo, sendMediaGroup,
editMessageText, editMessageCaption, deleteMessage, deleteMessages, getMe, getChat (ChatFullInfo's
`linked_chat_id`), getChatMember, setMessageReaction, getUpdates (`offset`, `limit`, `timeout`,
`allowed_updates`; Update, Message with `message_thread_id`, `reply_to_message`, `is_automatic_forward`,
`forward_origin`, MessageEntity mentions; `message_reaction_count`), ReplyParameters and
LinkPreviewOptions; and the Bots FAQ on limits and on privacy mode in groups.

The bot's token is the credential, and Telegram puts it in the path of every call (`/bot<token>/<method>`):
it is blanked in every error, kept out of tracebacks, and out of httpx's request log (the toolkit's filter
knows the `/bot<id>:` path).

By concern: `answers` (Telegram's JSON errors as a Dialect), `messages` (a sent message's id and address),
`updates` (the bot's one update queue, and who reads it), `engagement` (reactions read from the pending
updates), `inbox` (comments, replies, mentions and private messages read from them) and `adapter` (the
network).
"""
