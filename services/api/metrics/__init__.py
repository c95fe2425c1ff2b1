"""Metrics over HTTP: a post's engagement per delivery, and asking for fresh numbers."""
