"""Instagram: business and creator accounts, through Meta's Graph API and Facebook Login.

Followed, from Meta's Instagram Platform documentation (Instagram API with Facebook Login, Graph API
v24.0, the version Crier names by default; CRIER_FACEBOOK_GRAPH_VERSION): "Content Publishing" (media
containers made from a URL Instagram fetches, polled by `status_code`, published by media_publish; carousels
of 2 to 10; the 100 API-published posts per rolling 24 hours read at content_publishing_limit), the
references "IG User Media", "IG Container", "IG User Media Publish", "IG User Content Publishing Limit",
"IG Media" (fields, and DELETE), "IG Media Comments", "IG Media Insights", "IG User" (username, counts),
"Error Codes" (the 2207xxx subcodes), Graph API "Handling Errors" and "Rate Limiting", and Facebook Login's
"Manually Build a Login Flow" and "Long-Lived Access Tokens".

By concern: `channel` (a channel's options, what a draft may be), `graph` (reading Meta's errors and usage
headers), `graph_calls` (one account's calls), `containers` (publishing, each container at most once),
`finding` (media and comments read back), `insights` (counts), `oauth` (Facebook Login) and `adapter`.
Media go by the signed public addresses of shared.media.public_addresses.
"""
