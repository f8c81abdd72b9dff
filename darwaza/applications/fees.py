"""Where a paid fee moves an application on: the handler of the ``payments.fee_paid`` job.

Payments never import applications; they enqueue this job with the credit, and the
worker runs it here, so the application leaves ``awaiting_payment`` for the agency's queue.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from darwaza.applications.models import Application
from darwaza.applications.service import add_working_days, move, tell_applicant
from darwaza.applications.workflow import Action, ApplicationState, Party
from darwaza.audit.actors import Actor
from darwaza.catalogue import Catalogue, load_catalogue
from darwaza.clock import utcnow
from darwaza.i18n import rupees
from darwaza.identity.contact import link
from darwaza.identity.models import Citizen
from darwaza.jobs import JobContext, JobRegistry, PermanentFailure
from darwaza.payments.models import Payment
from darwaza.payments.service import PaymentJob


@lru_cache(maxsize=4)
def _catalogue(directory: Path) -> Catalogue:
    return load_catalogue(directory)


def move_on_fee_paid(context: JobContext) -> None:
    """Handler of ``payments.fee_paid``: the application joins the agency's queue; the
    service-level time starts now. Run twice, it does nothing the second time."""
    db = context.db
    application = db.get(Application, context.payload.get("application_id", ""))
    if application is None:
        raise PermanentFailure("no such application")
    if application.state != ApplicationState.AWAITING_PAYMENT:
        return  # withdrawn meanwhile (its fee is refunded by the rules), or already moved
    service = _catalogue(context.settings.catalogue_dir).service(application.service_id)
    tier = service.fee_tier(application.fee_tier) if application.fee_tier else None
    move(
        db,
        application=application,
        action=Action.FEE_PAID,
        by=Party.SYSTEM,
        actor=Actor.system(),
    )
    application.due_at = add_working_days(utcnow(), service.service_level_days_for(tier))
    citizen = db.get(Citizen, application.citizen_id)
    payment = db.get(Payment, context.payload.get("payment_id", ""))
    if citizen is None or payment is None:
        return
    language = citizen.preferred_language
    tell_applicant(
        db,
        settings=context.settings,
        citizen=citizen,
        application=application,
        service=service,
        event="fee_paid",
        values={
            "amount": rupees(payment.amount_paisa, language),
            "reference": payment.psid or payment.provider_reference or payment.id,
            "link": link(context.settings, "/wallet"),
        },
    )


def register_application_jobs(registry: JobRegistry) -> None:
    """Add this domain's handlers to the worker's registry."""
    registry.add(PaymentJob.FEE_PAID, move_on_fee_paid)
