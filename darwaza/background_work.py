"""Every domain's background work, gathered: the job handlers and the clock's schedules.

This is to the worker what `darwaza.models` is to migrations. `darwaza.jobs` names it by
string (``darwaza.background_work:job_registry``) rather than importing it, so the queue,
a lower layer, does not depend on the domains whose handlers it runs.
"""

from __future__ import annotations

import darwaza.models  # noqa: F401 (every table known before a handler's session is used)
from darwaza.applications.fees import register_application_jobs
from darwaza.jobs.registry import JobRegistry
from darwaza.notifications.jobs import register_notification_jobs
from darwaza.payments.jobs import register_payment_jobs


def job_registry() -> JobRegistry:
    """The registry a production worker runs with: every domain's handlers and schedules."""
    registry = JobRegistry()
    register_notification_jobs(registry)
    register_payment_jobs(registry)
    register_application_jobs(registry)
    return registry
