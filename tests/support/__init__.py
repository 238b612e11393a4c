"""Shared test helpers: real Kafka, real PostgreSQL, real processes, API clients."""
