"""What the networks on Meta's APIs (Facebook Pages, Instagram, Threads) read the same way: Graph's errors,
and the comments on an account's recent posts, by position, for the engagement inbox."""
