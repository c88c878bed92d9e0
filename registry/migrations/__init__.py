"""Alembic migrations of the registry schema, applied automatically on first use."""
