"""What instances on one database know of each other (issue 30)."""
