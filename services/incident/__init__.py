"""The incident service: incidents, their timeline and alert dedup keys."""
