"""Compact QR: COSE_Sign1 checked with the `cwt` library, images read back with zxing-cpp."""

from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime

import base45
import cbor2
import pytest
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cwt import COSE, COSEKey, VerifyError
from cwt.cose_key_interface import COSEKeyInterface
from PIL import Image

from darwaza.crypto.keys import kid_bytes_for_public_key
from darwaza.documents.formats.compact_qr import (
    MalformedCompactQr,
    decode_compact_qr,
    qr_png,
    qr_svg,
    qr_version,
    verify_compact_qr_signature,
)
from tests.credentials.credential_data import (
    DEGREE_CLAIMS,
    DEGREE_VCT,
    EXPIRES_AT,
    HEC,
    HEC_STATUS_LIST,
    ISSUED_AT,
    QR_CLAIMS,
    VALID_INDEX,
    DegreeIssuer,
    KeyPair,
    claims_subset,
    make_key_pair,
)


def cose_bytes(text: str) -> bytes:
    """Undo the prefix, Base45 and zlib layers by hand, independently of our decoder."""
    assert text.startswith("DZ1:")
    return zlib.decompress(base45.b45decode(text[4:]))


def cwt_key(key: KeyPair) -> COSEKeyInterface:
    pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return COSEKey.from_pem(pem, kid=kid_bytes_for_public_key(key.private_key.public_key()))


def test_qr_round_trips(encode_degree_qr: DegreeIssuer, hec_key: KeyPair) -> None:
    contents = decode_compact_qr(encode_degree_qr())
    assert contents.issuer == HEC
    assert contents.document_type == DEGREE_VCT
    assert contents.claims == claims_subset(QR_CLAIMS)
    assert contents.status_uri == HEC_STATUS_LIST
    assert contents.status_index == VALID_INDEX
    assert contents.issued_at == ISSUED_AT
    assert contents.expires_at == EXPIRES_AT
    assert contents.not_before is None
    assert contents.algorithm == -7
    assert contents.kid == kid_bytes_for_public_key(hec_key.private_key.public_key())
    assert contents.kid_text == hec_key.kid
    assert verify_compact_qr_signature(contents, hec_key.private_key.public_key())
    assert not verify_compact_qr_signature(contents, make_key_pair().private_key.public_key())


def test_qr_is_a_cose_sign1_the_cwt_library_verifies(
    encode_degree_qr: DegreeIssuer, hec_key: KeyPair
) -> None:
    cose = cose_bytes(encode_degree_qr())
    message = cbor2.loads(cose)
    assert message.tag == 18
    assert cbor2.loads(message.value[0]) == {1: -7}
    assert message.value[1] == {4: kid_bytes_for_public_key(hec_key.private_key.public_key())}
    payload = COSE.new().decode(cose, cwt_key(hec_key))
    claims = cbor2.loads(payload)
    assert claims[1] == HEC
    assert claims[6] == int(ISSUED_AT.timestamp())
    assert claims[4] == int(EXPIRES_AT.timestamp())
    assert claims[-70000]["c"] == claims_subset(QR_CLAIMS)
    assert claims[-70000]["s"] == {"idx": VALID_INDEX, "uri": HEC_STATUS_LIST}


def test_cwt_library_refuses_a_qr_signed_by_another_key(
    encode_degree_qr: DegreeIssuer, hec_key: KeyPair
) -> None:
    other = make_key_pair()
    cose = cbor2.loads(cose_bytes(encode_degree_qr(private_key=other.private_key)))
    cose.value[1] = {4: kid_bytes_for_public_key(hec_key.private_key.public_key())}
    with pytest.raises(VerifyError):
        COSE.new().decode(cbor2.dumps(cose), cwt_key(hec_key))


def test_qr_png_decodes_with_zxing_to_exactly_the_same_text(
    encode_degree_qr: DegreeIssuer,
) -> None:
    text = encode_degree_qr()
    image = Image.open(io.BytesIO(qr_png(text)))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    assert results[0].text == text


def test_qr_svg_is_an_inline_svg(encode_degree_qr: DegreeIssuer) -> None:
    svg = qr_svg(encode_degree_qr())
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert "#000" in svg


def test_degree_with_five_short_claims_fits_qr_version_15(
    encode_degree_qr: DegreeIssuer,
) -> None:
    # Realistic platform addresses: the status list named by a UUID, not a short slug.
    text = encode_degree_qr(
        status_uri="https://darwaza.gov.pk/status-lists/6f1c2e0a-9b7d-4c1e-8f3a-2d5b7c9e1a04",
        issuer="https://darwaza.gov.pk/agencies/hec",
        status_index=131_071,
    )
    assert len(DEGREE_CLAIMS) >= len(QR_CLAIMS) == 5
    assert qr_version(text) <= 15


def test_text_that_is_not_a_darwaza_qr_is_malformed(encode_degree_qr: DegreeIssuer) -> None:
    text = encode_degree_qr()
    for candidate in ("", "HC1:" + text[4:], text + "\n", text[:-3], text.lower(), "DZ1:"):
        with pytest.raises(MalformedCompactQr):
            decode_compact_qr(candidate)


def test_trailing_bytes_after_the_zlib_stream_are_refused(encode_degree_qr: DegreeIssuer) -> None:
    compressed = zlib.compress(cose_bytes(encode_degree_qr()), 9) + b"\x00"
    with pytest.raises(MalformedCompactQr):
        decode_compact_qr("DZ1:" + base45.b45encode(compressed).decode())


@pytest.mark.parametrize("level", [1, 6, -1])
def test_qr_compressed_by_another_encoder_is_the_same_document(
    encode_degree_qr: DegreeIssuer, hec_key: KeyPair, level: int
) -> None:
    # Another zlib (or level) spells the same signed bytes differently; the signature
    # covers the COSE message, so the code must still verify.
    text = encode_degree_qr()
    recompressed = "DZ1:" + base45.b45encode(zlib.compress(cose_bytes(text), level)).decode()
    contents = decode_compact_qr(recompressed)
    assert contents.signed_bytes == decode_compact_qr(text).signed_bytes
    assert verify_compact_qr_signature(contents, hec_key.private_key.public_key())


def test_unsigned_header_parameters_beyond_the_kid_are_refused(
    encode_degree_qr: DegreeIssuer,
) -> None:
    message = cbor2.loads(cose_bytes(encode_degree_qr()))
    message.value[1] = {**message.value[1], 99: "added after signing"}
    text = "DZ1:" + base45.b45encode(zlib.compress(cbor2.dumps(message), 9)).decode()
    with pytest.raises(MalformedCompactQr):
        decode_compact_qr(text)


def test_times_in_the_qr_are_whole_seconds_in_utc(encode_degree_qr: DegreeIssuer) -> None:
    contents = decode_compact_qr(
        encode_degree_qr(issued_at=datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC))
    )
    assert contents.issued_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
