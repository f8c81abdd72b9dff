"""Serving, the schema and the demo data."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, SupportsIndex

import click

from darwaza.catalogue import CatalogueError, load_catalogue
from darwaza.cli.common import load_settings
from darwaza.database import transaction
from darwaza.demo.accounts import DEMO_CITIZENS, demo_staff, load_demo_data
from darwaza.migrate import upgrade_database
from darwaza.numbers import format_cnic

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
APP = "darwaza.asgi:app"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development only).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the pages and the API."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    settings = load_settings()
    try:
        load_catalogue(settings.catalogue_dir)
    except CatalogueError as error:
        raise click.ClickException(
            f"refusing to start, the catalogue is invalid:\n{error}"
        ) from error
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": workers if not reload else None,
        "reload": reload,
        # X-Forwarded-For is believed only from the configured load balancers.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
        "log_level": settings.log_level.lower(),
        # The application logs each request itself, without the secrets some paths carry.
        "access_log": False,
    }
    with metrics_shared_by_workers(settings.data_dir, workers=1 if reload else workers):
        if workers > 1 and not reload and port and hasattr(socket, "SO_REUSEPORT"):
            _refuse_if_taken(host, port)
            config = uvicorn.Config(APP, **options)
            Multiprocess(config, sockets=OwnListeningSocket(host, port)).run()
        else:
            uvicorn.run(APP, **options)


class OwnListeningSocket(list[socket.socket]):
    """Stands for the listening socket each worker process binds for itself.

    uvicorn's supervisor hands every worker the same list of sockets. Sharing one socket,
    whichever worker wakes first accepts a whole burst of new connections (43 and 21 of
    64 keep-alive connections in one run), and the busier worker then carries two thirds
    of the load for as long as the connections live. This list is pickled as
    instructions instead: each worker, unpickling it, binds its own socket to the address
    with ``SO_REUSEPORT``, and the kernel spreads new connections over the workers by a
    hash of their addresses. A worker that dies takes its socket with it, so no
    connection waits on a dead worker, and the supervisor starts another as before.
    """

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (bind_own_socket, (self.host, self.port))


def bind_own_socket(host: str, port: int) -> list[socket.socket]:
    """A socket bound to ``host:port`` beside the other workers' (``SO_REUSEPORT``)."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return [listener]


def _refuse_if_taken(host: str, port: int) -> None:
    """Stop with a clear message if something already listens on the address (a socket
    without ``SO_REUSEPORT`` cannot share it, so a second server cannot slip in beside)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from error
    finally:
        probe.close()


@contextmanager
def metrics_shared_by_workers(data_dir: Path, *, workers: int) -> Iterator[None]:
    """With several worker processes, let ``/metrics`` add up all of their figures.

    Each process would otherwise count only what it answered, and a scrape would see
    whichever worker took it. prometheus-client's multiprocess mode keeps every
    process's figures in files of one directory, which each worker must know before it
    imports the client: so the directory is made (empty) here and named in the
    environment the workers inherit, and removed when the server stops. An operator's own
    ``PROMETHEUS_MULTIPROC_DIR`` is used as it is.
    """
    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    shared = data_dir / "metrics" / str(os.getpid())
    shutil.rmtree(shared, ignore_errors=True)
    shared.mkdir(parents=True)
    os.environ[MULTIPROCESS_ENV] = str(shared)
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_ENV]
        shutil.rmtree(shared, ignore_errors=True)


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema."""

    upgrade_database(load_settings(), revision)
    click.echo("Database is up to date.")


@click.command()
def demo() -> None:
    """Load demo agencies, services, officers and citizens (running it twice changes nothing)."""

    settings = load_settings()
    if settings.env == "production":
        raise click.ClickException("demo data is never loaded in production")
    catalogue = load_catalogue(settings.catalogue_dir)
    with transaction(settings) as session:
        created = load_demo_data(session, settings=settings, catalogue=catalogue)
    click.echo(
        f"Demo data: {len(created)} created" + (": " + ", ".join(created) if created else "")
    )
    click.echo("")
    click.echo("Demo accounts (codes arrive in " + str(settings.outbox_dir / "sms.jsonl") + "):")
    for citizen in DEMO_CITIZENS:
        click.echo(f"  citizen  CNIC {format_cnic(citizen.cnic)}  ({citizen.full_name})")
    for person in demo_staff(catalogue):
        click.echo(f"  officer  {person.username} / {person.password}  ({person.agency_id})")
    click.echo("")
    click.echo("Officers' second factor is an authenticator app; for the demo accounts,")
    click.echo("`.venv/bin/darwaza demo-code USERNAME` prints the current code.")


@click.command("demo-code")
@click.argument("username")
def demo_code(username: str) -> None:
    """Print a demo officer's current authenticator code (never in production)."""
    import pyotp

    settings = load_settings()
    if settings.env == "production":
        raise click.ClickException("demo accounts do not exist in production")
    for person in demo_staff(load_catalogue(settings.catalogue_dir)):
        if person.username == username:
            click.echo(pyotp.TOTP(person.authenticator_seed).now())
            return
    raise click.ClickException(f"{username} is not a demo account")


COMMANDS = (
    serve,
    db,
    demo,
    demo_code,
)
