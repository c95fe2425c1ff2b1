"""POST /v1/preview."""
