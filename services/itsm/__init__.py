"""The itsm service (see DESIGN.md for what it owns)."""
