"""LinkedIn: posting as a member or as a page they administer, through LinkedIn's versioned REST API.

Followed, from LinkedIn's Marketing API documentation (learn.microsoft.com/linkedin/, version 202510, the
`LinkedIn-Version` every call sends with `X-Restli-Protocol-Version: 2.0.0`): community-management/shares/
posts-api (create: 201 with the post's URN in `x-restli-id` and no body; get, find by author sorted by
LAST_MODIFIED, partial update of `commentary`, delete), little-text-format (the commentary's reserved
characters and its mention and hashtag elements: shared.text.linkedin), images-api (initializeUpload, then
the bytes PUT to the upload URL), network-update-social-actions and comments-api (likes and comments summary;
a comment under a post), organizations/share-statistics (a page's impressions, clicks and reshares),
shared/api-guide/concepts/rate-limits (daily quotas that reset at midnight UTC, no reset header) and
shared/authentication (three-legged OAuth, tokens of 60 days, refresh tokens for approved apps only, OpenID
userinfo).

By concern: `channel` (who posts, and what a draft may be), `rest` (the headers, URNs and LinkedIn's way of
answering), `adapter` (the network: publishing, editing, deleting, verifying), `finding` (what an uncertain
attempt made, found among the author's posts), `engagement` (a post's counts) and `oauth` (connecting an
account, renewing its token).
"""
