"""``cachetui compare``: two write policies side by side over the same operations."""
