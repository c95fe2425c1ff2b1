"""Outbound webhooks: telling a workspace's own systems what happened, signed, retried, logged."""
