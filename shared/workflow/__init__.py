"""The workflow: what people do with posts once written, and what it does to their deliveries.

A post is submitted, approved or rejected, scheduled (its deliveries made), changed, cancelled, published
now, deleted and edited on its networks; a series makes its occurrences; the calendar and the lists show
where each post is, and its state is read from its deliveries. So are the steps of other features that
reach posts and deliveries: a channel disconnected cancels what it had waiting, and a media asset
described again sends its posts back for approval, or cannot be deleted while a post that may still go
out attaches it.

It sits above shared.posts (the post as written, and its rules), shared.deliveries (which alone writes
delivery rows, and reads posts to publish them), channels and media: none of them imports it.
"""
