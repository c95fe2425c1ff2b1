"""The worker's tasks, one module per feature. Each is thin: ids in, one service call."""
