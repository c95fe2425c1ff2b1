"""Channels: one connected account on one network."""
