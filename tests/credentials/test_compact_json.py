"""The JSON every signature covers: compact UTF-8, the same as the standard library's
for any plain data, and never the NaN or Infinity that JSON does not have."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from darwaza.crypto.jws import compact_json, strict_json_loads

plain_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),  # Urdu, controls, lone surrogates excepted by Hypothesis's default
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


def _standard(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@given(plain_data)
def test_any_plain_data_reads_back_as_itself(value: Any) -> None:
    assert json.loads(compact_json(value)) == value


@given(plain_data)
def test_the_bytes_are_the_standard_librarys_compact_form(value: Any) -> None:
    # Byte for byte, floats aside: 1e+16 and 1e16 are the same number.
    assume(not _has_float(value))
    assert compact_json(value) == _standard(value)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_float(item) for item in value)
    return False


def test_a_disclosure_in_urdu_is_written_as_readable_utf8() -> None:
    assert compact_json(["c2FsdA", "full_name", "محمد علی"]) == (
        '["c2FsdA","full_name","محمد علی"]'.encode()
    )


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_not_written_as_null(number: float) -> None:
    with pytest.raises(ValueError):
        compact_json({"year": number})
    with pytest.raises(ValueError):
        compact_json(["salt", "score", [1, number]])


def test_what_json_cannot_hold_is_refused_as_before() -> None:
    with pytest.raises(TypeError):
        compact_json({"at": datetime(2026, 12, 1, tzinfo=UTC)})


@given(plain_data)
def test_strict_reading_gives_what_the_standard_library_reads(value: Any) -> None:
    # Compact bytes take the fast reader; the same value spaced out takes the standard one.
    for data in (compact_json(value), json.dumps(value, indent=1).encode("utf-8")):
        assert strict_json_loads(data) == json.loads(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":1}',  # the same member twice, even with the same value
        b'{"c":{"cnic":"3520212345671","cnic":"3520212345672"}}',
        b'[{"x":true,"y":false,"x":true}]',
        b"[NaN]",
        b'{"a":-Infinity}',
        b"\xef\xbb\xbf{}",  # a byte order mark
        b'{"a":"\xff"}',  # not UTF-8
    ],
)
def test_strict_reading_refuses_what_is_not_one_plain_json_value(data: bytes) -> None:
    with pytest.raises(ValueError):
        strict_json_loads(data)
