"""The database behind the cache: one protocol (:mod:`.base`), SQLite behind it, and the
batching that turns many concurrent callers into few database calls."""
