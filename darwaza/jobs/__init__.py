"""Work that outlives the request: a durable job queue (a transactional outbox) and its worker.

A job is a row in ``jobs`` written in the same transaction as the change that causes it
(`enqueue`), so the change and its job commit together or not at all. ``darwaza worker``
processes claim jobs with a lease and run each handler in a transaction that also marks
the job done. Delivery is at least once; handlers are idempotent, so the effect is once.
"""

from darwaza.jobs.models import Job, JobStatus, Priority
from darwaza.jobs.queue import (
    JobNotFound,
    NewJob,
    PermanentFailure,
    cancel_job,
    enqueue,
    enqueue_all,
    list_jobs,
    queue_stats,
    retry_job,
)
from darwaza.jobs.registry import JobContext, JobHandler, JobRegistry, Schedule

__all__ = [
    "Job",
    "JobContext",
    "JobHandler",
    "JobNotFound",
    "JobRegistry",
    "JobStatus",
    "NewJob",
    "PermanentFailure",
    "Priority",
    "Schedule",
    "cancel_job",
    "enqueue",
    "enqueue_all",
    "list_jobs",
    "queue_stats",
    "retry_job",
]
