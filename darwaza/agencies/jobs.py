"""The audit trail's upkeep, run by the worker's clock: chain new events, sign checkpoints.

These live with the root key (agencies), which signs the checkpoints.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from darwaza.agencies.keys import sign_audit_checkpoint
from darwaza.audit.trail import sequence_all
from darwaza.jobs.registry import JobContext, JobRegistry, Schedule
from darwaza.settings import Settings


class AuditJob(StrEnum):
    """The kinds of job that keep the trail."""

    SEQUENCE = "audit.sequence"
    CHECKPOINT = "audit.checkpoint"


def chain_new_events(context: JobContext) -> None:
    """Handler of ``audit.sequence``: chain every event written since the last run."""
    sequence_all(context.db)


def sign_checkpoint(context: JobContext) -> None:
    """Handler of ``audit.checkpoint``: the root key signs the head; it is anchored outside."""
    sign_audit_checkpoint(context.db, settings=context.settings)


def register_audit_jobs(registry: JobRegistry, settings: Settings) -> None:
    """Add the trail's upkeep to the worker: chaining every few seconds, signing hourly."""
    registry.add(AuditJob.SEQUENCE, chain_new_events)
    registry.add(AuditJob.CHECKPOINT, sign_checkpoint)
    if settings.audit_sequence_seconds:
        every = timedelta(seconds=settings.audit_sequence_seconds)
        registry.add_schedule(Schedule("audit-sequence", AuditJob.SEQUENCE, every))
    if settings.audit_checkpoint_minutes:
        every = timedelta(minutes=settings.audit_checkpoint_minutes)
        registry.add_schedule(Schedule("audit-checkpoint", AuditJob.CHECKPOINT, every))
