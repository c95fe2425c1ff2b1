"""Networks: the port every social network implements, the registry that loads them, and adapters."""
