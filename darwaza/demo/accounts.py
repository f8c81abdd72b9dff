"""Demo data: the people a new user can try the platform with.

Loading is idempotent: running it twice changes nothing. The CLI refuses to load it
in production, where these well-known passwords would be a hole.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.agencies.service import sync_agencies
from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.catalogue import Catalogue
from darwaza.clock import utcnow
from darwaza.identity.models import Citizen, IdentityProof, Role, StaffMember
from darwaza.identity.proofing import SimRegistryFile, demo_sim_registry
from darwaza.identity.staff import create_staff_member
from darwaza.numbers import parse_mobile
from darwaza.settings import Settings


@dataclass(frozen=True)
class DemoStaff:
    username: str
    password: str
    full_name: str
    role: str
    agency_id: str | None
    mobile: str

    @property
    def authenticator_seed(self) -> str:
        """A fixed seed, so `darwaza demo-code` can show the demo officer's current code."""
        letters = "".join(ch for ch in self.username.upper() if ch.isalpha())
        return (letters + "DARWAZADEMOSEED" * 3)[:32]


@dataclass(frozen=True)
class DemoCitizen:
    cnic: str
    full_name: str
    mobile: str


DEMO_STAFF = (
    DemoStaff(
        "hec.officer", "demo-hec-officer", "Ayesha Siddiqui", Role.OFFICER, "hec", "03001110001"
    ),
    DemoStaff(
        "nadra.officer", "demo-nadra-officer", "Bilal Ahmed", Role.OFFICER, "nadra", "03001110002"
    ),
)

DEMO_CITIZENS = (
    DemoCitizen("3520212345671", "Fatima Khan", "03001234567"),
    DemoCitizen("6110198765432", "Usman Tariq", "03331234567"),
)


def demo_staff(catalogue: Catalogue) -> list[DemoStaff]:
    """The demo staff accounts: one officer per demo agency."""
    staff = [person for person in DEMO_STAFF if person.agency_id in catalogue.agencies]
    for agency_id in catalogue.agencies:
        if agency_id not in ("hec", "nadra"):
            staff.append(
                DemoStaff(
                    f"{agency_id}.officer",
                    f"demo-{agency_id}-officer",
                    "Sana Malik",
                    Role.OFFICER,
                    agency_id,
                    "03001110003",
                )
            )
    return staff


def load_demo_data(db: Session, *, settings: Settings, catalogue: Catalogue) -> list[str]:
    """Create the demo agencies, staff and citizens that do not exist yet."""
    created = [f"agency {agency_id}" for agency_id in sync_agencies(db, catalogue=catalogue)]
    for person in demo_staff(catalogue):
        if db.scalar(select(StaffMember).where(StaffMember.username == person.username)):
            continue
        create_staff_member(
            db,
            settings=settings,
            authenticator_seed=person.authenticator_seed,
            username=person.username,
            full_name=person.full_name,
            role=person.role,
            agency_id=person.agency_id,
            mobile=person.mobile,
            password=person.password,
            actor=Actor.operator(),
        )
        created.append(f"staff {person.username}")
    proofing = SimRegistryFile(demo_sim_registry(settings))
    for citizen in DEMO_CITIZENS:
        if db.scalar(select(Citizen).where(Citizen.cnic == citizen.cnic)):
            continue
        mobile = parse_mobile(citizen.mobile)
        # In the demo, each citizen's SIM is registered to their CNIC, as a real one is.
        proofing.register(cnic=citizen.cnic, mobile=mobile)
        row = Citizen(
            cnic=citizen.cnic,
            full_name=citizen.full_name,
            mobile=mobile,
            identity_proven_at=utcnow(),
            identity_proof=IdentityProof.SIM_REGISTRY,
        )
        db.add(row)
        db.flush()
        record_event(
            db,
            actor=Actor.operator(),
            action="citizen.created",
            object_type="citizen",
            object_id=row.id,
        )
        created.append("citizen " + citizen.full_name)
    return created
