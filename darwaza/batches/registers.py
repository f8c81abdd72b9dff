"""Reading a register (CSV or XLSX) row by row, and checking each row against its type.

Nothing here holds a whole file in memory: CSV is read by the ``csv`` module from a text
stream, XLSX by openpyxl in read-only mode, after the zip's directory is checked so a
small file that inflates to gigabytes (a zip bomb) is refused before it is opened.
Formula cells are never evaluated: openpyxl returns their text, and a value that starts
with ``=`` is reported instead of issued.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from openpyxl import load_workbook

from darwaza.catalogue import ClaimDefinition, DocumentTypeDefinition
from darwaza.errors import DarwazaError, Message
from darwaza.i18n import N_
from darwaza.numbers import InvalidCnic, parse_cnic

MAX_COLUMNS: Final = 200
MAX_CELL_LENGTH: Final = 500
MAX_XLSX_UNCOMPRESSED: Final = 512 * 1024 * 1024
MAX_XLSX_RATIO: Final = 100
MAX_XLSX_ENTRIES: Final = 2000
HOLDER_COLUMN: Final = "cnic"
# C0/C1 controls (tab excepted) and the bidirectional overrides and isolates, which can
# make a name read differently from what is stored (CVE-2021-42574, "Trojan Source").
_FORBIDDEN: Final = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_GENERATED_SOURCES: Final = ("issued.", "citizen.cnic")

csv.field_size_limit(64 * 1024)


class RegisterRefused(DarwazaError):
    """A file that cannot be read as a register at all."""

    status_code = 422
    code = "register_refused"
    default_message = N_("This file cannot be read as a register: upload a CSV or XLSX file.")


@dataclass(frozen=True)
class Problem:
    """One line of the check report."""

    row: int  # 0 is the header
    column: str
    message: Message


@dataclass
class CheckedRow:
    """A row as it will be issued, or the problems that keep it back."""

    row: int
    holder_cnic: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def file_claims(document_type: DocumentTypeDefinition) -> list[ClaimDefinition]:
    """The claims a register must give (the others are generated when issuing)."""
    return [c for c in document_type.claims if not c.source.startswith(_GENERATED_SOURCES)]


def detect_format(path: Path) -> str:
    """``xlsx`` or ``csv`` from the file's first bytes, or `RegisterRefused`."""
    with path.open("rb") as file:
        head = file.read(64 * 1024)
    if head.startswith(b"PK\x03\x04"):
        _check_zip(path)
        return "xlsx"
    if b"\x00" in head:
        raise RegisterRefused()
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the sample's end
            raise RegisterRefused(
                N_("This file is not UTF-8 text: save the register as CSV UTF-8 or XLSX.")
            ) from error
    return "csv"


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
    except zipfile.BadZipFile as error:
        raise RegisterRefused() from error
    if "xl/workbook.xml" not in names or len(entries) > MAX_XLSX_ENTRIES:
        raise RegisterRefused()
    total = sum(entry.file_size for entry in entries)
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > 1024 * 1024 and ratio > MAX_XLSX_RATIO:
            raise RegisterRefused(N_("This spreadsheet inflates far beyond its size: refused."))
    if total > MAX_XLSX_UNCOMPRESSED:
        raise RegisterRefused(N_("This spreadsheet inflates far beyond its size: refused."))


def read_rows(path: Path, file_format: str) -> Iterator[list[Any]]:
    """The rows of the register's first sheet, header first, as lists of cell values."""
    if file_format == "xlsx":
        yield from _xlsx_rows(path)
    else:
        yield from _csv_rows(path)


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    with path.open("r", encoding="utf-8-sig", newline="") as text:
        sample = text.read(16 * 1024)
        text.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        try:
            yield from csv.reader(text, dialect)
        except (csv.Error, UnicodeDecodeError) as error:
            raise RegisterRefused(
                N_("This file is not a readable CSV register: save it as CSV UTF-8 or XLSX.")
            ) from error


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    # A file object, not the path: registers are stored under their SHA-256, with no
    # ".xlsx" for openpyxl to go by.
    with path.open("rb") as file:
        try:
            workbook = load_workbook(file, read_only=True, data_only=False)
        except Exception as error:  # openpyxl raises many kinds for a broken file
            raise RegisterRefused() from error
        try:
            sheet = workbook.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield list(values)
        except Exception as error:
            raise RegisterRefused() from error
        finally:
            workbook.close()


def normalise_header(name: Any) -> str:
    """A column name as compared with claim names: trimmed, lower case, ``_`` for spaces."""
    return re.sub(r"\s+", "_", str(name or "").strip().lower())


@dataclass(frozen=True)
class Columns:
    """Where each claim and the holder's CNIC are in the file, and the header's problems."""

    positions: Mapping[str, int]
    problems: Sequence[Problem]
    width: int
    claims: Sequence[ClaimDefinition] = ()  # what each row must give, in order

    @property
    def usable(self) -> bool:
        """No header problem stops the register being issued."""
        return not any(p.message.msgid in _BLOCKING for p in self.problems)


MISSING_COLUMN = N_("The column {column} is missing: this document type needs it.")
DUPLICATE_COLUMN = N_("The column {column} appears more than once.")
TOO_MANY_COLUMNS = N_("The header has {count} columns; a register may have at most {limit}.")
NO_HEADER = N_("The file has no header row.")
UNKNOWN_COLUMN = N_("The column {column} is not a claim of this document type: it is ignored.")
_BLOCKING: Final = frozenset({MISSING_COLUMN, DUPLICATE_COLUMN, TOO_MANY_COLUMNS, NO_HEADER})


def read_header(
    header: Sequence[Any] | None,
    document_type: DocumentTypeDefinition,
    mapping: Mapping[str, str],
) -> Columns:
    """Match the header's columns to the holder's CNIC and the type's claims."""
    if header is None or not any(str(cell or "").strip() for cell in header):
        return Columns({}, [Problem(0, "", Message(NO_HEADER))], 0)
    if len(header) > MAX_COLUMNS:
        problem = Problem(
            0, "", Message(TOO_MANY_COLUMNS, {"count": len(header), "limit": MAX_COLUMNS})
        )
        return Columns({}, [problem], len(header))
    renames = {normalise_header(k): normalise_header(v) for k, v in mapping.items()}
    wanted = {HOLDER_COLUMN} | {c.name for c in file_claims(document_type)}
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    for index, cell in enumerate(header):
        name = normalise_header(cell)
        name = renames.get(name, name)
        if not name:
            continue
        if name in positions:
            problems.append(Problem(0, name, Message(DUPLICATE_COLUMN, {"column": name})))
        elif name in wanted:
            positions[name] = index
        else:
            problems.append(Problem(0, name[:100], Message(UNKNOWN_COLUMN, {"column": name})))
    for name in sorted(wanted - set(positions)):
        problems.append(Problem(0, name, Message(MISSING_COLUMN, {"column": name})))
    return Columns(positions, problems, len(header), file_claims(document_type))


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()


def _claim_value(claim: ClaimDefinition, value: Any) -> tuple[Any, Message | None]:
    if isinstance(value, str) and value.strip().startswith("="):
        return None, Message(N_("A formula is not accepted: type the value itself."))
    text = _text(value)
    if _FORBIDDEN.search(text):
        return None, Message(N_("Control characters and text-direction overrides are not allowed."))
    if len(text) > MAX_CELL_LENGTH:
        return None, Message(N_("Longer than {limit} characters."), {"limit": MAX_CELL_LENGTH})
    if claim.type == "date":
        if isinstance(value, datetime | date):
            return text, None
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, Message(N_("Not a date: write it as YYYY-MM-DD, like 2024-06-30."))
    if claim.type == "number":
        if isinstance(value, bool):
            return None, Message(N_("Not a number."))
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            return None, Message(N_("Not a number."))
        if number != number or number in (float("inf"), float("-inf")):
            return None, Message(N_("Not a number."))
        return (int(number) if number.is_integer() else number), None
    return text, None


MISSING_VALUE = N_("A value is missing.")
EXTRA_CELLS = N_("This row has more cells than the header has columns.")


def check_row(row_number: int, values: Sequence[Any], columns: Columns) -> CheckedRow:
    """One row against the document type's claims (in ``columns``): every claim present,
    of its type, and clean."""
    checked = CheckedRow(row_number)
    if len(values) > columns.width and any(
        str(cell or "").strip() for cell in values[columns.width :]
    ):
        checked.problems.append(Problem(row_number, "", Message(EXTRA_CELLS)))
        return checked
    raw_cnic = _cell(values, columns.positions.get(HOLDER_COLUMN))
    if raw_cnic is None:
        checked.problems.append(Problem(row_number, HOLDER_COLUMN, Message(MISSING_VALUE)))
    elif isinstance(raw_cnic, str) and raw_cnic.strip().startswith("="):
        message = Message(N_("A formula is not accepted: type the value itself."))
        checked.problems.append(Problem(row_number, HOLDER_COLUMN, message))
    else:
        try:
            checked.holder_cnic = parse_cnic(_text(raw_cnic))
        except InvalidCnic as error:
            checked.problems.append(Problem(row_number, HOLDER_COLUMN, error.message))
    for claim in columns.claims:
        raw = _cell(values, columns.positions.get(claim.name))
        if raw is None:
            checked.problems.append(Problem(row_number, claim.name, Message(MISSING_VALUE)))
            continue
        value, problem = _claim_value(claim, raw)
        if problem is not None:
            checked.problems.append(Problem(row_number, claim.name, problem))
        else:
            checked.claims[claim.name] = value
    return checked


def _cell(values: Sequence[Any], position: int | None) -> Any:
    if position is None or position >= len(values):
        return None
    value = values[position]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A cell of an exported CSV that a spreadsheet will not run as a formula (OWASP)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def report_csv_line(cells: Sequence[str]) -> str:
    """One line of a CSV report, each cell protected against formula injection."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([spreadsheet_safe(cell) for cell in cells])
    return buffer.getvalue()
