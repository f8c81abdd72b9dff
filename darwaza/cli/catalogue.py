"""Checking a catalogue folder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from darwaza.catalogue import CatalogueError, load_catalogue


@click.group()
def catalogue() -> None:
    """Service definitions."""


@catalogue.command("validate")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def catalogue_validate(path: Path) -> None:
    """Check a catalogue directory; name the file and field of every error."""

    try:
        loaded = load_catalogue(path)
    except CatalogueError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(
        f"Catalogue is valid: {len(loaded.agencies)} agencies, {len(loaded.services)} services, "
        f"{len(loaded.document_types)} document types."
    )


COMMANDS = (catalogue,)
