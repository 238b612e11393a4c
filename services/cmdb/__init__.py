"""The cmdb service (see DESIGN.md for what it owns)."""
