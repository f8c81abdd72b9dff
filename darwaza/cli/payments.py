"""Commands for fees: ``darwaza payments reconcile FILE`` and ``darwaza sandbox-bank``."""

from __future__ import annotations

from pathlib import Path

import click

from darwaza.cli.common import load_settings
from darwaza.database import transaction
from darwaza.payments.reconciliation import (
    SettlementFileError,
    read_settlement,
    reconcile,
    report_csv,
)


@click.group()
def payments() -> None:
    """Fees: reconciliation with the banks' settlement files."""


@payments.command("reconcile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--csv", "as_csv", is_flag=True, help="Print the report as CSV.")
@click.option("--agency", default=None, help="Only this agency's PSIDs.")
def reconcile_command(file: Path, as_csv: bool, agency: str | None) -> None:
    """Compare a settlement file (CSV: psid, amount, transaction_id, bank, paid_at) with
    the payments Darwaza credited, and report each day."""
    settings = load_settings()
    try:
        rows = read_settlement(file.read_text(encoding="utf-8-sig"))
    except (SettlementFileError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{file}: {error}") from error
    with transaction(settings) as db:
        reports = reconcile(db, rows, agency_id=agency)
    if as_csv:
        click.echo(report_csv(reports), nl=False)
        return
    for report in reports:
        click.echo(
            f"{report.day.isoformat()}: matched {report.matched}, "
            f"paid here but missing there {len(report.missing_there)}, "
            f"there but not here {len(report.missing_here)}, "
            f"amount mismatches {len(report.amount_mismatches)}"
        )
        for kind, items in (
            ("paid here, missing there", report.missing_there),
            ("there, not here", report.missing_here),
            ("amount mismatch", report.amount_mismatches),
        ):
            for item in items:
                click.echo(f"  {kind}: {item}")
    if not reports:
        click.echo("The file has no payments.")


@click.command("sandbox-bank")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=int)
def sandbox_bank(host: str, port: int) -> None:
    """Run the sandbox bank and PSP for the demo (no real money)."""
    import uvicorn

    from darwaza.payments.sandbox import create_sandbox_app

    settings = load_settings()
    uvicorn.run(create_sandbox_app(settings), host=host, port=port, log_level="warning")


COMMANDS = (payments, sandbox_bank)
