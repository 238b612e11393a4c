"""The observability service (see DESIGN.md for what it owns)."""
