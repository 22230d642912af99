"""The write-behind queue: the in-memory queue, the flusher that lands it in batches, its
durable forms (an outbox file; the fleet queue in Redis, :mod:`cachetui.engine.fleet`) and
the dead letters it parks."""
