"""Deliveries over HTTP: one post on one channel, with its own state."""
