"""Connecting a channel by a person approving Crier on the network: OAuth 2 authorization code with PKCE."""
