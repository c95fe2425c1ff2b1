"""Posts: what a person wrote once, to go out on several channels."""
