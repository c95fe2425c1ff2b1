"""The HTTP API: an app factory, the problem-details error mapping, one schemas+views pair per feature."""
