"""Vigil domain services: one package per service, each with the same rooms (see README)."""
