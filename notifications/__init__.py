"""Telling people: the outbox's messages rendered from templates and sent through channels."""
