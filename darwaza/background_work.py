"""Every domain's background work, gathered: the job handlers and the clock's schedules.

This is to the worker what `darwaza.models` is to migrations: the ``darwaza worker``
command runs with it, so the queue, a lower layer, depends on no domain.
"""

from __future__ import annotations

import darwaza.models  # noqa: F401 (every table known before a handler's session is used)
from darwaza.agencies.jobs import register_audit_jobs
from darwaza.applications.digest import register_application_jobs
from darwaza.applications.fees import register_application_jobs as register_fee_jobs
from darwaza.batches.issuing import register_batch_jobs
from darwaza.jobs.registry import JobRegistry
from darwaza.notifications.jobs import register_notification_jobs
from darwaza.payments.jobs import register_payment_jobs
from darwaza.settings import Settings, get_settings


def job_registry(settings: Settings | None = None) -> JobRegistry:
    """The registry a production worker runs with: every domain's handlers and schedules."""
    settings = settings or get_settings()
    registry = JobRegistry()
    register_notification_jobs(registry)
    register_audit_jobs(registry, settings)
    register_application_jobs(registry)
    register_batch_jobs(registry)
    register_payment_jobs(registry)
    register_fee_jobs(registry)
    return registry
