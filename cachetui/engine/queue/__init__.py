"""The write-behind queue: the in-memory queue, the flusher that lands it in batches, its
durable forms (an outbox file, a Redis Stream) and the dead letters it parks."""
