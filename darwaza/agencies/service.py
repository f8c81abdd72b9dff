"""Agencies: kept in step with the catalogue files that define them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from darwaza.agencies.models import Agency
from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.catalogue import Catalogue


def sync_agencies(db: Session, *, catalogue: Catalogue) -> list[str]:
    """Create or rename the agencies the catalogue defines; return the ids that changed."""
    existing = {agency.id: agency for agency in db.execute(select(Agency)).scalars()}
    changed = []
    for definition in catalogue.agencies.values():
        row = existing.get(definition.id)
        names = {"name_en": definition.name.en, "name_ur": definition.name.ur}
        if row is None:
            row = Agency(id=definition.id, **names)
            db.add(row)
            record_event(
                db,
                actor=Actor.system(),
                action="agency.created",
                object_type="agency",
                object_id=definition.id,
                after=names,
            )
            changed.append(definition.id)
        elif (row.name_en, row.name_ur) != (names["name_en"], names["name_ur"]):
            before = {"name_en": row.name_en, "name_ur": row.name_ur}
            row.name_en, row.name_ur = names["name_en"], names["name_ur"]
            record_event(
                db,
                actor=Actor.system(),
                action="agency.renamed",
                object_type="agency",
                object_id=definition.id,
                before=before,
                after=names,
            )
            changed.append(definition.id)
    try:
        db.flush()
    except IntegrityError:  # another worker created them at the same moment
        db.rollback()
        return []
    return changed
