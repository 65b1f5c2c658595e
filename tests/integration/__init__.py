"""Integration tier: handlers and applications on an in-memory bus and on real stores."""
