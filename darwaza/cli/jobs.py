"""Commands for the job queue: ``darwaza worker`` and ``darwaza jobs list|retry|cancel``.

The worker runs every domain's handlers, gathered by :mod:`darwaza.background_work`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta

import click
from sqlalchemy.orm import Session

from darwaza.cli.common import load_settings
from darwaza.database import transaction
from darwaza.errors import DarwazaError
from darwaza.i18n import translate
from darwaza.jobs.models import Job, JobStatus
from darwaza.jobs.queue import cancel_job, list_jobs, queue_stats, retry_job
from darwaza.jobs.registry import JobRegistry
from darwaza.jobs.worker import MAX_CONCURRENCY, Worker
from darwaza.notifications.templates import TemplateError, load_templates

# Tests and benchmarks may name another registry (``module:function``) for their own kinds.
DEFAULT_REGISTRY = "darwaza.background_work:job_registry"


def load_registry(reference: str) -> JobRegistry:
    """Build the registry a ``module:function`` reference names."""
    module_name, _, function_name = reference.partition(":")
    registry = getattr(importlib.import_module(module_name), function_name)()
    if not isinstance(registry, JobRegistry):
        raise click.ClickException(f"{reference} did not return a JobRegistry")
    return registry


@click.command("worker")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, MAX_CONCURRENCY),
    help="Job threads (one more thread takes only urgent jobs).",
)
@click.option(
    "--batch",
    default=8,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Jobs a thread claims at once.",
)
@click.option(
    "--lease-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1),
    help="How long a claimed job stays this worker's without a heartbeat.",
)
@click.option("--worker-id", default=None, help="Name in leased_by (default host:pid).")
@click.option("--registry", "registry_reference", default=DEFAULT_REGISTRY, hidden=True)
def worker_command(
    concurrency: int,
    batch: int,
    lease_seconds: float,
    worker_id: str | None,
    registry_reference: str,
) -> None:
    """Run background jobs until SIGTERM or Ctrl-C (then finish the jobs in hand)."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        load_templates(settings.notification_templates_dir)
    except TemplateError as error:
        raise click.ClickException(f"message templates: {error}") from error
    worker = Worker(
        settings,
        load_registry(registry_reference),
        concurrency=concurrency,
        worker_id=worker_id,
        lease=timedelta(seconds=lease_seconds),
        batch_size=batch,
    )
    worker.run()


@click.group("jobs")
def jobs_group() -> None:
    """Look at background jobs, retry dead ones, cancel queued ones."""


def _describe(job: Job) -> str:
    error = f"  {job.last_error.splitlines()[0][:80]}" if job.last_error else ""
    return (
        f"{job.id:>8}  {job.kind:<20} {job.status.value:<9} p{job.priority} "
        f"{job.attempts}/{job.max_attempts}  {job.run_at:%Y-%m-%d %H:%M:%S}Z{error}"
    )


@jobs_group.command("list")
@click.option("--status", type=click.Choice([status.value for status in JobStatus]))
@click.option("--kind", default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def jobs_list(status: str | None, kind: str | None, limit: int) -> None:
    """The newest jobs, then how many there are in each state."""
    with transaction(load_settings()) as db:
        jobs = list_jobs(db, status=JobStatus(status) if status else None, kind=kind, limit=limit)
        for job in jobs:
            click.echo(_describe(job))
        stats = queue_stats(db)
    counts = ", ".join(f"{state.value} {count}" for state, count in stats.counts.items())
    age = stats.oldest_queued_age
    click.echo(counts + (f"; oldest due job waited {age.total_seconds():.0f} s" if age else ""))


@jobs_group.command("retry")
@click.argument("job_id", type=int)
def jobs_retry(job_id: int) -> None:
    """Queue a dead or cancelled job again, with its attempts reset."""
    _change(retry_job, job_id)


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
def jobs_cancel(job_id: int) -> None:
    """Cancel a queued job so that it never runs."""
    _change(cancel_job, job_id)


def _change(verb: Callable[[Session, int], Job], job_id: int) -> None:
    try:
        with transaction(load_settings()) as db:
            line = _describe(verb(db, job_id))
    except DarwazaError as error:
        message = translate("en", error.message.msgid, error.message.params)
        raise click.ClickException(message) from error
    click.echo(line)


COMMANDS = (worker_command, jobs_group)
