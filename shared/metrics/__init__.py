"""Engagement metrics: samples collected from the networks after a delivery is published."""
