"""``python -m darwaza.jobs worker`` and ``python -m darwaza.jobs jobs ...``: the queue's
commands on their own, before (and besides) the ``darwaza`` command offers them."""

from __future__ import annotations

import click

from darwaza.jobs.cli import jobs_group, worker_command


@click.group()
def main() -> None:
    """Darwaza's background jobs."""


main.add_command(worker_command)
main.add_command(jobs_group)

if __name__ == "__main__":
    main()
