"""Webhooks over HTTP: endpoints that are told what happened, and the log of what they were told."""
