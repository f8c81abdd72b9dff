"""The ``darwaza`` command: one group, with a module per family of commands.

Commands parse what the operator typed and call the domains' service functions in one
transaction each; they hold no domain rules of their own.
"""

from __future__ import annotations

import click

import darwaza.models  # noqa: F401 (every table known before any session is used)
from darwaza.cli import audit, catalogue, documents, jobs, payments, people, server, trust


@click.group()
def main() -> None:
    """Darwaza: one door to every public service."""


for _module in (server, catalogue, audit, people, documents, trust, jobs, payments):
    for _command in _module.COMMANDS:
        main.add_command(_command)
