"""Periodic jobs: when each one last ran, shared by every scheduler replica."""
