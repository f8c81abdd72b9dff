"""Uploads are judged by their content, never by their name."""

from __future__ import annotations

import struct
import zlib

from darwaza.catalogue import RequiredDocument, answers
from darwaza.catalogue.answers import check_upload, human_size

LABEL = {"en": "Degree", "ur": "ڈگری"}


def requirement(*allowed: str, max_bytes: int = 5 * 1024 * 1024) -> RequiredDocument:
    return RequiredDocument.model_validate(
        {
            "name": "degree",
            "label": LABEL,
            "upload": {"allowed_types": list(allowed), "max_bytes": max_bytes},
        }
    )


def tiny_png() -> bytes:
    """A real 1x1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def tiny_pdf() -> bytes:
    """A real one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


ALL_KINDS = ("application/pdf", "image/jpeg", "image/png")


def test_allowed_png_and_pdf_are_accepted() -> None:
    assert check_upload(requirement(*ALL_KINDS), "degree.png", tiny_png()) is None
    assert check_upload(requirement(*ALL_KINDS), "degree.pdf", tiny_pdf()) is None
    # The name does not matter either way: a real PDF with an odd name is still a PDF.
    assert check_upload(requirement("application/pdf"), "scan", tiny_pdf()) is None


def test_a_program_named_like_a_pdf_is_refused() -> None:
    program = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode."
    problem = check_upload(requirement(*ALL_KINDS), "degree.pdf", program)
    assert problem is not None
    assert problem.msgid == answers.WRONG_FILE_TYPE
    assert problem.params == {"label": LABEL, "types": "PDF, JPEG, PNG"}


def test_a_web_page_named_like_a_pdf_is_refused() -> None:
    page = b"<html><script>alert(1)</script></html>"
    problem = check_upload(requirement("application/pdf"), "degree.pdf", page)
    assert problem is not None and problem.msgid == answers.WRONG_FILE_TYPE


def test_an_image_where_only_pdf_is_allowed_is_refused() -> None:
    problem = check_upload(requirement("application/pdf"), "degree.pdf", tiny_png())
    assert problem is not None
    assert problem.msgid == answers.WRONG_FILE_TYPE
    assert problem.params["types"] == "PDF"


def test_an_oversized_file_is_refused() -> None:
    content = tiny_pdf() + b"%" + b"x" * 2048 + b"\n"
    problem = check_upload(requirement(*ALL_KINDS, max_bytes=2048), "degree.pdf", content)
    assert problem is not None
    assert problem.msgid == answers.FILE_TOO_LARGE
    assert problem.params == {"label": LABEL, "limit": "2 KB", "max_bytes": 2048}
    exactly = check_upload(requirement(*ALL_KINDS, max_bytes=len(tiny_png())), "a", tiny_png())
    assert exactly is None


def test_an_empty_file_is_refused() -> None:
    problem = check_upload(requirement(*ALL_KINDS), "degree.pdf", b"")
    assert problem is not None and problem.msgid == answers.EMPTY_FILE


def test_a_wallet_document_cannot_be_uploaded() -> None:
    from_wallet = RequiredDocument.model_validate(
        {"name": "identity_card", "label": LABEL, "wallet_document_type": "nadra-identity-card"}
    )
    problem = check_upload(from_wallet, "card.png", tiny_png())
    assert problem is not None and problem.msgid == answers.NOT_AN_UPLOAD


def test_sizes_read_as_people_write_them() -> None:
    assert human_size(5 * 1024 * 1024) == "5 MB"
    assert human_size(1536 * 1024) == "1.5 MB"
    assert human_size(200 * 1024) == "200 KB"
    assert human_size(512) == "512 bytes"
