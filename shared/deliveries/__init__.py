"""Deliveries: one post on one channel, with its own state, due time and attempts."""
