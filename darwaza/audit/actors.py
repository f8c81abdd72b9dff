"""Who causes a change: every audit event and timeline step names one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    """Who can cause a change."""

    CITIZEN = "citizen"
    STAFF = "staff"
    API_TOKEN = "api_token"  # noqa: S105 (a kind of actor, not a secret)
    OPERATOR = "operator"
    SYSTEM = "system"
    PUBLIC = "public"


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a citizen, a staff member, an agency's system, the platform
    itself, an operator at the command line, or anyone on the internet."""

    kind: ActorKind
    id: str | None = None

    @classmethod
    def citizen(cls, citizen_id: str) -> Actor:
        return cls(ActorKind.CITIZEN, citizen_id)

    @classmethod
    def staff(cls, staff_id: str) -> Actor:
        return cls(ActorKind.STAFF, staff_id)

    @classmethod
    def api_token(cls, token_id: str) -> Actor:
        return cls(ActorKind.API_TOKEN, token_id)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM)

    @classmethod
    def operator(cls) -> Actor:
        return cls(ActorKind.OPERATOR)

    @classmethod
    def public(cls) -> Actor:
        return cls(ActorKind.PUBLIC)
