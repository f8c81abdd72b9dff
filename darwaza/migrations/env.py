"""Alembic environment: the URL comes from Darwaza's settings, the schema from its models."""

from __future__ import annotations

from alembic import context

from darwaza.database import engine_for
from darwaza.models import Base
from darwaza.settings import get_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url


def run_migrations() -> None:
    engine = engine_for(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
