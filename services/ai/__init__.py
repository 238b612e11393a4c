"""The ai service (see DESIGN.md for what it owns)."""
