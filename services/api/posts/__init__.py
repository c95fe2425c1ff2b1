"""Posts over HTTP: write once, schedule it on several channels, read back how it went."""
