"""/v1/sessions: the dashboard sessions a member has open, to see and to end."""
