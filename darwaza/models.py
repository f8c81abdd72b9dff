"""Every domain's tables, imported together so migrations see the whole schema."""

from darwaza.agencies.models import Agency, SigningKeyRecord
from darwaza.applications.models import Application, ApplicationEvent, Attachment
from darwaza.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from darwaza.batches.models import Batch, BatchProblem, BatchRow
from darwaza.database import Base
from darwaza.documents.models import Document, StatusList
from darwaza.identity.models import (
    ApiToken,
    Citizen,
    Passkey,
    SignInChallenge,
    StaffMember,
    UserSession,
)
from darwaza.jobs.models import Job
from darwaza.notifications.models import Notification, Suppression
from darwaza.payments.models import Payment, PaymentCredit, PaymentRefund, PaymentWebhookEvent
from darwaza.wallet.models import Share, ShareOpening

__all__ = [
    "Agency",
    "ApiToken",
    "Application",
    "ApplicationEvent",
    "Attachment",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "Base",
    "Batch",
    "BatchProblem",
    "BatchRow",
    "Citizen",
    "Document",
    "Job",
    "Notification",
    "Passkey",
    "Payment",
    "PaymentCredit",
    "PaymentRefund",
    "PaymentWebhookEvent",
    "Share",
    "ShareOpening",
    "SignInChallenge",
    "SigningKeyRecord",
    "StaffMember",
    "StatusList",
    "Suppression",
    "UserSession",
]
