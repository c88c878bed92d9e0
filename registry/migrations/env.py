"""Alembic environment: runs on the connection the registry hands over."""

from __future__ import annotations

from alembic import context

from registry.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the registry runs its migrations itself; open the database with appaudit")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
