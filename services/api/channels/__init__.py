"""Channels over HTTP: connect an account on a network, list the workspace's accounts."""
