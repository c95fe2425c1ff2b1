"""The engagement inbox over HTTP: items, their threads, replies, likes and hides, and saved searches."""
