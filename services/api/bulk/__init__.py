"""Bulk: posts in from a CSV or JSON file (/v1/imports); posts and the calendar out (/v1/exports)."""
