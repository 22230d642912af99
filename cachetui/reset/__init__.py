"""``cachetui reset``: remove what cachetui made in a database (and its queue)."""
