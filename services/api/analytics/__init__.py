"""Analytics over HTTP: series, summaries, ranked posts, best times and snapshots, as JSON or CSV."""
