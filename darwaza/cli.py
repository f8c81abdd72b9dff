"""The ``darwaza`` command: serve, migrate, load demo data, check catalogues and the audit trail."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from darwaza.settings import InsecureSettings, Settings, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except InsecureSettings as error:
        raise click.ClickException(str(error)) from error


@click.group()
def main() -> None:
    """Darwaza: one door to every public service."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development only).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the pages and the API."""
    import uvicorn

    from darwaza.catalogue import CatalogueError, load_catalogue

    settings = _settings()
    try:
        load_catalogue(settings.catalogue_dir)
    except CatalogueError as error:
        raise click.ClickException(
            f"refusing to start, the catalogue is invalid:\n{error}"
        ) from error
    uvicorn.run(
        "darwaza.web.asgi:app",
        host=host,
        port=port,
        workers=workers if not reload else None,
        reload=reload,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema."""
    from darwaza.migrate import upgrade_database

    upgrade_database(_settings(), revision)
    click.echo("Database is up to date.")


@main.command()
def demo() -> None:
    """Load demo agencies, services, officers and citizens (running it twice changes nothing)."""
    from darwaza.catalogue.loading import load_catalogue
    from darwaza.database import transaction
    from darwaza.demo.accounts import DEMO_CITIZENS, demo_staff, load_demo_data
    from darwaza.identity.numbers import format_cnic

    settings = _settings()
    if settings.env == "production":
        raise click.ClickException("demo data is never loaded in production")
    catalogue = load_catalogue(settings.catalogue_dir)
    with transaction(settings) as session:
        created = load_demo_data(session, catalogue=catalogue)
    click.echo(
        f"Demo data: {len(created)} created" + (": " + ", ".join(created) if created else "")
    )
    click.echo("")
    click.echo("Demo accounts (codes arrive in " + str(settings.outbox_dir / "sms.jsonl") + "):")
    for citizen in DEMO_CITIZENS:
        click.echo(f"  citizen  CNIC {format_cnic(citizen.cnic)}  ({citizen.full_name})")
    for person in demo_staff(catalogue):
        click.echo(f"  officer  {person.username} / {person.password}  ({person.agency_id})")


@main.group()
def catalogue() -> None:
    """Service definitions."""


@catalogue.command("validate")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def catalogue_validate(path: Path) -> None:
    """Check a catalogue directory; name the file and field of every error."""
    from darwaza.catalogue import CatalogueError, load_catalogue

    try:
        loaded = load_catalogue(path)
    except CatalogueError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(
        f"Catalogue is valid: {len(loaded.agencies)} agencies, {len(loaded.services)} services, "
        f"{len(loaded.document_types)} document types."
    )


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain; report the first edited, deleted or inserted event."""
    from darwaza.audit.trail import verify_chain
    from darwaza.database import transaction

    with transaction(_settings()) as session:
        result = verify_chain(session)
    if result.intact:
        click.echo(f"Audit trail intact: {result.events_checked} events checked.")
        return
    click.echo(f"Audit trail broken: {result.first_problem}", err=True)
    sys.exit(1)


@main.group()
def staff() -> None:
    """Staff accounts (never created by sign-up)."""


@staff.command("create")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "agency_admin", "platform_admin", "auditor"]),
)
@click.option("--agency", "agency_id", default=None)
@click.option("--mobile", required=True)
@click.password_option(help="Prompted for when not given.")
def staff_create(
    username: str, full_name: str, role: str, agency_id: str | None, mobile: str, password: str
) -> None:
    """Create a staff account."""
    from darwaza.audit.trail import Actor
    from darwaza.database import transaction
    from darwaza.errors import DarwazaError
    from darwaza.i18n import translate
    from darwaza.identity.service import create_staff_member

    try:
        with transaction(_settings()) as session:
            create_staff_member(
                session,
                username=username,
                full_name=full_name,
                role=role,
                agency_id=agency_id,
                mobile=mobile,
                password=password,
                actor=Actor.operator(),
            )
    except DarwazaError as error:
        raise click.ClickException(
            translate("en", error.message.msgid, error.message.params)
        ) from error
    click.echo(f"Created {role} {username}.")


if __name__ == "__main__":
    main()
