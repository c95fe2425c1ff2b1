"""Workspaces (a team's shared account) and the API tokens that act for them."""
