"""What every command needs: the settings, the catalogue, and errors in plain English."""

from __future__ import annotations

import click

from darwaza.catalogue import Catalogue, load_catalogue
from darwaza.errors import DarwazaError
from darwaza.i18n import translate
from darwaza.settings import InsecureSettings, Settings, get_settings


def load_settings() -> Settings:
    """The settings, or a clear refusal (e.g. default secrets in production)."""
    try:
        return get_settings()
    except InsecureSettings as error:
        raise click.ClickException(str(error)) from error


def app_parts() -> tuple[Settings, Catalogue]:
    """The settings and the checked catalogue."""
    settings = load_settings()
    return settings, load_catalogue(settings.catalogue_dir)


def failure(error: DarwazaError) -> click.ClickException:
    """A domain error as the operator reads it, with one line per field."""
    lines = [translate("en", error.message.msgid, error.message.params)]
    lines += [f"  {name}: {translate('en', m.msgid, m.params)}" for name, m in error.fields.items()]
    return click.ClickException("\n".join(lines))
