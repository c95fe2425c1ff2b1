"""The workflow: what people do with posts once written, and what it does to their deliveries.

A post is submitted, approved or rejected, scheduled (its deliveries made), changed, cancelled, published
now, deleted and edited on its networks; a series makes its occurrences; the calendar and the lists show
where each post is, and its state is read from its deliveries.

It sits above shared.posts (the post as written, and its rules) and shared.deliveries (which alone writes
delivery rows, and reads posts to publish them): neither imports it.
"""
