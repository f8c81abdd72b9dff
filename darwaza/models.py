"""Every domain's tables, imported together so migrations see the whole schema."""

from darwaza.agencies.models import Agency
from darwaza.applications.models import Application, ApplicationEvent, Attachment
from darwaza.audit.models import AuditChainHead, AuditEvent
from darwaza.database import Base
from darwaza.identity.models import Citizen, SignInChallenge, StaffMember, UserSession

__all__ = [
    "Agency",
    "Application",
    "ApplicationEvent",
    "Attachment",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Citizen",
    "SignInChallenge",
    "StaffMember",
    "UserSession",
]
