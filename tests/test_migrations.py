"""The schema built by the migrations is exactly what the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from darwaza.database import engine_for
from darwaza.models import Base
from darwaza.settings import Settings


def test_migrations_and_models_agree(settings: Settings) -> None:
    with engine_for(settings.resolved_database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
