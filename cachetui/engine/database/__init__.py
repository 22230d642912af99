"""The database behind the cache: one protocol (:mod:`.base`), SQLite and PostgreSQL
behind it, and the batching that turns many concurrent callers into few database calls."""
