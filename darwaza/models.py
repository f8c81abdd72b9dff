"""Every domain's tables, imported together so migrations see the whole schema."""

from darwaza.agencies.models import Agency, SigningKeyRecord
from darwaza.applications.models import Application, ApplicationEvent, Attachment
from darwaza.audit.models import AuditChainHead, AuditEvent
from darwaza.database import Base
from darwaza.documents.models import Document, StatusList
from darwaza.identity.models import Citizen, SignInChallenge, StaffMember, UserSession
from darwaza.wallet.models import Share, ShareOpening

__all__ = [
    "Agency",
    "Application",
    "ApplicationEvent",
    "Attachment",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Citizen",
    "Document",
    "Share",
    "ShareOpening",
    "SignInChallenge",
    "SigningKeyRecord",
    "StaffMember",
    "StatusList",
    "UserSession",
]
