"""Bulk: many posts in at once from a CSV or JSON file; the posts out as CSV, the calendar as iCalendar."""
